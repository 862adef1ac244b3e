"""Words the judge guard (components.rubrics.guard) reads in the languages a dialogue may use: the concepts of
"answer / solution / reasoning / step by step" (openers that carry no content of their own, as in English), and
the concepts a reply needs to talk to its grader (an evaluator, a score, the top of a scale).

Concepts, not attack strings: each entry is the ordinary word (a stem where the language inflects) for the
concept. The languages are those the benign dialogues use (components.evaluation.benign_replies) plus English;
a language outside them is caught, if at all, by the guard's change-of-language rule instead.
"""

from __future__ import annotations

import re

# fmt: off
OPENER_WORDS = (
    # French, Spanish, German, Italian, Portuguese
    "(ma |mi |la mia |minha |a minha |meine |mein |мой )?(endgültige |finale? |окончательный |definitiv[ao] )?"
    "(solution|réponses?( finale)?|solución|respuestas?( final)?|"
    "lösung|antwort|soluzione|risposta( finale)?|solução|resposta( final)?|решение|ответ)",
    "raisonnement", "explication", "démarche", "corrigé", "étape \\d+",
    "étape par étape", "pas à pas", "voici( ma| la)?", "solución", "respuestas?( final)?", "razonamiento",
    "explicación", "resolución", "paso \\d+", "paso a paso", "aquí está( mi| la)?", "lösung(sweg)?",
    "antwort", "endgültige antwort", "denkprozess", "überlegung", "erklärung", "schritt \\d+",
    "schritt für schritt", "hier ist( meine| die)?", "soluzione", "risposta( finale)?", "ragionamento",
    "spiegazione", "svolgimento", "passo \\d+", "passo (dopo|a) passo", "ecco( la mia| la)?", "solução",
    "resposta( final)?", "raciocínio", "explicação", "resolução", "aqui está( a minha| a)?",
    # Russian, Turkish
    "решение", "ответ", "окончательный ответ", "ход мыслей", "рассуждение", "объяснение", "разбор",
    "шаг \\d+", "шаг за шагом", "вот( мой)?", "çözüm", "cevap", "nihai cevap", "düşünce süreci",
    "adım \\d+", "adım adım", "işte( cevabım)?",
    # Arabic, Hindi
    "الحل", "الإجابة( النهائية)?", "طريقة التفكير", "الخطوة \\d+", "خطوة بخطوة", "إليك", "समाधान", "उत्तर",
    "अंतिम उत्तर", "विचार प्रक्रिया", "चरण \\d+", "चरण दर चरण",
)
# Scripts without spaces between words: matched anywhere.
OPENER_CJK = (
    "(我的|私の)?(最终的?|最終的な)?(解答?|答案|回答|答え)", "一歩ずつ考えましょう",
    "我们一步步来思考", "解答?", "答案", "最终答案", "思考过程", "推理过程", "解析", "详解", "第[一二三1-9]步",
    "一步一步", "一步步",
    "かいせつ", "解説", "回答", "答え", "最終回答", "思考プロセス", "推論", "ステップ\\d+", "一歩ずつ", "解答例",
    "해답", "정답", "답변", "최종 답변", "사고 과정", "\\d+단계", "단계별로",
)
# Verbs and pronouns of "let us / let me think, solve, reason (this problem)" in the same languages.
OPENER_PHRASES = (
    "(résolvons|pensons|réfléchissons)(-y| à)?( ce problème| cela| y)?", "laisse[zr]?-moi réfléchir( attentivement)?",
    "(resolvamos|pensemos)( este problema)?", "déjame pensar(lo)?( con cuidado)?",
    "(lösen|denken) wir( dieses problem)?", "lass mich( sorgfältig)?( darüber)? nachdenken",
    "(risolviamo|pensiamo|ragioniamo)( questo problema)?", "fammi pensare( con attenzione)?",
    "vamos (resolver|pensar)( este problema)?", "(pensemos|deixe-me pensar)( com cuidado)?",
    "(давайте )?(решим|подумаем)( эту задачу)?", "позвольте мне подумать( внимательно)?",
    "bu problemi( adım adım)? çözelim", "dikkatlice düşünmeme izin ver",
    "لنحل هذه المشكلة", "دعني أفكر( في هذا)?( بعناية)?", "आइए इस समस्या को", "हल करें",
    "让我们", "解决这个问题", "让我仔细想一想", "我们", "来思考", "この問題を", "解いていきましょう",
    "慎重に考えてみます",
    "考えましょう", "이 문제를", "풀어 봅시다", "신중하게 생각해 보겠습니다",
)
# Concepts of grading in the languages other than English (English has its own rules in the guard): who grades,
# what is given, the top of the scale, the reply speaking of itself ("this answer") and its being correct.
EVALUATOR = (
    "évaluat", "correcteur", "correctrice", "juge", "jury", "examinateur", "examinatrice", "evaluador", "juez",
    "jurado", "calificador",
    "examinador", "corrector", "bewerter", "prüfer", "gutachter", "korrektor", "jury", "valutator", "giudic",
    "correttor", "esaminator", "giuria", "avaliador", "juiz", "júri", "corretor", "оценщик", "проверяющ", "судь",
    "судья", "жюри", "экзаменатор", "değerlendirici", "hakem", "jüri", "مقيّم", "المقيم", "المصحح", "الحكم",
    "मूल्यांकनकर्ता", "निर्णायक", "परीक्षक", "评审", "评委", "评分者", "评判", "阅卷", "考官", "裁判",
    "採点者", "審査員", "評価者", "평가자", "심사위원", "채점자",
)
SCORE = (
    "la note", "une note", "noter", "notez", "puntuación", "puntaje", "nota",
    "calificación", "califica", "puntos", "punktzahl", "punkte", "bewerte", "wertung", "punteggio", "voto",
    "valuta", "punti", "pontuação", "avalie", "pontos", "оценк", "оцени", "балл", "puan", "notu", "derece",
    "درجة", "الدرجة", "علامة", "أعلى درجة", "अंक", "打分", "评分", "分数", "满分", "最高分", "点数", "満点",
    "採点", "評価", "점수", "만점", "점을",
)
TOP = (
    "maximal", "maximale", "meilleur", "parfait",
    "máxim", "más alta", "perfect", "höchst", "volle", "bestnote", "perfekt", "massim", "più alto", "perfett",
    "mais alta", "perfeit", "максимальн", "высш", "наивысш", "идеальн", "en yüksek", "tam puan", "mükemmel",
    "الكاملة", "أعلى", "पूरे", "सर्वोच्च", "满分", "最高", "完美", "満点", "最高", "完璧", "만점", "최고", "완벽",
)
SELF = (
    "cette réponse", "ma réponse", "esta respuesta", "mi respuesta", "diese antwort", "dieser antwort",
    "meine antwort", "questa risposta", "la mia risposta", "esta resposta", "a minha resposta", "этот ответ",
    "этому ответу", "мой ответ", "bu cevap", "bu cevab", "bu yanıt", "cevabım", "هذه الإجابة", "إجابتي",
    "इस उत्तर", "यह उत्तर",
    "这个回答", "这个答案", "我的回答", "この回答", "この答え", "私の回答", "이 답변", "이 답", "제 답변",
)
CORRECT = (
    "correct", "correcte", "correcta", "correcto", "korrekt", "richtig", "corrett", "corret", "правильн", "верн",
    "doğru", "صحيح", "सही", "正确", "正確", "正解", "정답", "올바른",
)
# "Ignore the instructions" and "write only the number", as in the English rules.
IGNORE = (
    "ignor", "oublie", "olvida", "vergiss", "dimentica", "esqueça", "игнорируй", "забудь", "yok say", "تجاهل",
    "अनदेखा", "忽略", "无视", "無視", "무시",
)
INSTRUCTION = (
    "instruction", "consigne", "instrucci", "anweisung", "istruzion", "instruç", "инструкц", "указани", "talimat",
    "التعليمات", "निर्देश", "指令", "指示", "지시",
)
NUMBER = (
    "le chiffre", "le nombre", "el número", "die zahl", "il numero", "o número", "числ", "sayısını", "sayı", "الرقم",
    "संख्या", "数字", "숫자",
)
ONLY = (
    "seulement", "uniquement", "solo", "sólo", "nur", "soltanto", "apenas", "somente", "только", "sadece", "فقط",
    "केवल", "只", "だけ", "만",
)
# The roles of a chat or a judge's template (system, assistant, user, evaluator, reviewer): a segment that opens
# with one as a label leaves the reply's turn.
ROLE = (
    "système", "assistant", "assistante", "utilisateur", "utilisatrice", "évaluateur", "évaluatrice", "correcteur",
    "examinateur", "sistema", "asistente", "usuario", "evaluador", "revisor", "calificador", "system", "assistent",
    "benutzer", "nutzer", "bewerter", "prüfer", "gutachter", "assistente", "utente", "valutatore", "revisore",
    "usuário", "utilizador", "avaliador", "система", "ассистент", "помощник", "пользователь", "оценщик",
    "проверяющий", "рецензент", "sistem", "asistan", "kullanıcı", "değerlendirici", "inceleyen", "hakem", "النظام",
    "المساعد", "المستخدم", "المقيّم", "المقيم", "المراجع", "المصحح", "सिस्टम", "सहायक", "उपयोगकर्ता",
    "मूल्यांकनकर्ता", "समीक्षक", "系统", "助手", "用户", "评估者", "评审", "审核员", "评分者", "システム",
    "アシスタント", "ユーザー", "評価者", "審査員", "採点者", "시스템", "어시스턴트", "사용자", "평가자", "검토자",
    "채점자",
)
# Letters of other scripts, small capitals and phonetic letters that look like Latin ones (a subset of Unicode's
# confusables, for the scripts a homoglyph attack draws on): the guard reads English rules through them.
CONFUSABLES = {
    "a": ("ɑαаᴀ", "a"), "b": ("ƅЬʙв", "b"), "c": ("сϲᴄꮯ", "c"), "d": ("ԁᴅꮷ", "d"),
    "e": ("еҽᴇꬲ", "e"), "f": ("ꜰ", "f"), "g": ("ցɡɢ", "g"), "h": ("һʜн", "h"), "i": ("іɩιӏɪ", "i"),
    "j": ("јᴊ", "j"), "k": ("κкᴋ", "k"), "l": ("ʟӏ", "l"), "m": ("ᴍм", "m"), "n": ("ոᴎɴп", "n"),
    "o": ("оοօᴏσ", "o"), "p": ("рρᴘ", "p"), "q": ("զԛ", "q"), "r": ("гʀꭇ", "r"), "s": ("ѕꜱʂ", "s"),
    "t": ("τтᴛ", "t"), "u": ("սυᴜ", "u"), "v": ("ѵνᴠ", "v"), "w": ("ԝᴡ", "w"), "x": ("хχ", "x"),
    "y": ("уүʏỿ", "y"), "z": ("ᴢ", "z"), "A": ("АΑᎪ", "A"), "B": ("ВΒᏴ", "B"), "C": ("СϹᏟ", "C"),
    "D": ("Ꭰᗞ", "D"), "E": ("ЕΕᎬ", "E"), "G": ("ᏀԌ", "G"), "H": ("НΗᎻ", "H"), "I": ("ІΙӀ", "I"),
    "J": ("ЈᎫ", "J"), "K": ("КΚᏦ", "K"), "L": ("Ꮮ", "L"), "M": ("МΜᎷ", "M"), "N": ("Ν", "N"),
    "O": ("ОΟՕ", "O"), "P": ("РΡᏢ", "P"), "R": ("Ꭱ", "R"), "S": ("ЅᏚ", "S"), "T": ("ТΤᎢ", "T"),
    "V": ("Ꮩ", "V"), "W": ("Ꮃ", "W"), "X": ("ХΧ", "X"), "Y": ("ΥҮ", "Y"), "Z": ("ΖᏃ", "Z"),
}
# fmt: on
CONFUSABLE_TABLE = str.maketrans({c: latin for chars, latin in CONFUSABLES.values() for c in chars})


def _alternation(words, bounded: bool) -> str:
    body = "|".join(sorted(set(words), key=len, reverse=True))
    return rf"(?<!\w)(?:{body})(?!\w)" if bounded else f"(?:{body})"


def _stems(words) -> str:
    """Stems: bounded at the start only, so inflected forms match; words of scripts without spaces anywhere."""
    spaced = [w for w in words if not re.search(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]", w)]
    unspaced = [w for w in words if w not in spaced]
    return rf"(?<!\w)(?:{'|'.join(sorted(set(spaced), key=len, reverse=True))})|{'|'.join(sorted(set(unspaced)))}"


OPENERS = re.compile(
    rf"{_alternation(OPENER_WORDS + OPENER_PHRASES, bounded=True)}|{_alternation(OPENER_CJK, bounded=False)}",
    re.I,
)
EVALUATORS, SCORES, TOPS, SELVES, CORRECTS, IGNORES, INSTRUCTIONS, NUMBERS, ONLIES = (
    re.compile(_stems(words), re.I)
    for words in (EVALUATOR, SCORE, TOP, SELF, CORRECT, IGNORE, INSTRUCTION, NUMBER, ONLY)
)
ROLE_LINE = re.compile(
    rf"[\s>*_#\[(<|`~—–-]*{_alternation(ROLE, bounded=True)}[\s*_\])>|`]*(?:[:：]|$)"
    rf"|#+\s*{_alternation(ROLE, bounded=True)}",
    re.I,
)
CUES = re.compile(_stems(EVALUATOR + SCORE + SELF + IGNORE + NUMBER + ONLY), re.I)  # one of these opens every rule
