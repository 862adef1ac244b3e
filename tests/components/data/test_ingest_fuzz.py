"""Fuzzed input for every ingest format (canonical jsonl, csv and parquet; hh-rlhf; esconv; counselchat): random
rows of the right shape, broken at random (wrong types, missing keys, huge strings, control characters, lone
surrogates, deep nesting, unparseable lines), with a fixed seed. Nothing crashes, every row is counted and the
counts reconcile; files broken as a whole (bytes that are not UTF-8) are refused, naming the file and the line."""

from __future__ import annotations

import json
import random
import string
from collections import Counter

import pandas as pd
import pytest

from components.data.canonical import read_table
from components.data.ingest import ingest
from components.data.sources import SourceError
from paretoflow.config import load_params
from tests.conftest import tiny

SEED = 20240607
ROWS = 120  # per source
CONTROL = "".join(map(chr, range(1, 32))) + "\x7f\x85\u2028\u2029\ufeff"


class Deep:
    """A value nested `depth` levels, kept as its JSON text: json.dumps itself stops near 1000 levels."""

    def __init__(self, text: str):
        self.text = text


def _dumps(value) -> str:
    """json.dumps with `Deep` values spliced in as their text."""
    raw: dict[str, str] = {}

    def default(o):
        if not isinstance(o, Deep):
            raise TypeError(type(o).__name__)
        marker = f"@deep{len(raw)}@"
        raw[json.dumps(marker)] = o.text
        return marker

    text = json.dumps(value, default=default)
    for marker, deep in raw.items():
        text = text.replace(marker, deep, 1)
    return text


class Fuzz:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.serial = 0

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def text(self) -> str:
        """Unique text (so rows seldom collide into duplicates), now and then huge or with odd characters."""
        self.serial += 1
        words = " ".join("".join(self.rng.choices(string.ascii_letters, k=self.rng.randint(1, 8))) for _ in range(4))
        text = f"{words} #{self.serial}"
        roll = self.rng.random()
        if roll < 0.04:
            text += "x" * self.rng.randint(100_000, 400_000)
        elif roll < 0.10:
            text += "".join(self.rng.choices(CONTROL, k=3))
        elif roll < 0.13:
            text += "\ud800"  # a lone surrogate, written as the JSON escape \\ud800
        elif roll < 0.16:
            text += "caf\u00e9 \U0001f600 \u4e2d"
        return text

    def junk(self, depth_max: int = 10_000):
        """A value of the wrong type."""
        return self.rng.choice(
            [
                None,
                42,
                -1.5,
                True,
                [],
                {},
                ["a", 1],
                {"nested": {"deeper": [1, 2]}},
                "",
                "   ",
                self.deep(self.rng.choice([5, 70, depth_max])),
            ]
        )

    def deep(self, depth: int) -> Deep:
        kinds = [self.chance(0.5) for _ in range(depth)]
        return Deep(
            "".join("[" if k else '{"k": ' for k in kinds)
            + '"bottom"'
            + "".join("]" if k else "}" for k in reversed(kinds))
        )

    def mutate(self, record: dict, keys: list[str], depth_max: int = 10_000) -> dict:
        """Usually the record as is; else one or two keys dropped or given a wrong type, or extra nesting."""
        if self.chance(0.55):
            return record
        record = dict(record)
        for _ in range(self.rng.randint(1, 2)):
            key = self.rng.choice(keys)
            roll = self.rng.random()
            if roll < 0.35:
                record.pop(key, None)
            elif roll < 0.85:
                record[key] = self.junk(depth_max)
            else:
                record["meta"] = {"deep": self.deep(self.rng.choice([3, 80, min(depth_max, 2000)]))}
        return record


def _jsonl(fuzz: Fuzz, records: list) -> tuple[bytes, int]:
    """JSON lines, some of them unparseable; returns the bytes and the number of rows (non-blank lines)."""
    lines = []
    for record in records:
        roll = fuzz.rng.random()
        if roll < 0.04:
            lines.append('{"prompt": [{"role": "user", "content": "cut')  # truncated JSON
        elif roll < 0.06:
            lines.append('{"chosen": "raw \t tab and \x01 control"}')  # unescaped control characters: not JSON
        elif roll < 0.08:
            lines.append(json.dumps(fuzz.rng.choice([[1, 2], "a string", 7, None])))  # JSON, but not an object
        else:
            lines.append(_dumps(record))
    if lines and lines[0].lstrip().startswith("["):
        lines[0] = "{}"  # a first line that is an array reads as a whole JSON array file: refused, tested elsewhere
    return ("\n".join(lines) + "\n").encode(), len(lines)


def _canonical_records(fuzz: Fuzz, n: int, depth_max: int = 10_000) -> list[dict]:
    out = []
    for _ in range(n):
        prompt = [{"role": "user", "content": fuzz.text()}]
        if fuzz.chance(0.3):
            prompt = [{"role": "system", "content": fuzz.text()}, *prompt]
        if fuzz.chance(0.1):
            prompt[0] = fuzz.rng.choice([{"role": "narrator", "content": "x"}, {"role": "user"}, "text", 3])
        record = {"prompt": prompt, "chosen": fuzz.text(), "rejected": fuzz.text(), "objective": "empathy"}
        if fuzz.chance(0.2):
            record = {"prompt": prompt}
        if fuzz.chance(0.3):
            record["meta"] = {"tag": fuzz.text(), "n": fuzz.rng.randint(0, 9)}
        if fuzz.chance(0.1):
            record["split"] = fuzz.rng.choice(["train", "test", "dev", 1])
        out.append(fuzz.mutate(record, ["prompt", "chosen", "rejected", "objective", "split", "source"], depth_max))
    return out


def _cell(fuzz: Fuzz, value):
    """A CSV or Parquet cell: text (JSON text for structured values), now and then empty or odd."""
    if not isinstance(value, str):
        value = _dumps(value)
    value = value.replace("\ud800", "?")  # CSV and Parquet hold UTF-8 only; surrogates come through JSON
    roll = fuzz.rng.random()
    if roll < 0.05:
        return None
    if roll < 0.08:
        return value[: len(value) // 2]  # cut JSON text
    return value


def _hh_records(fuzz: Fuzz, n: int) -> list[dict]:
    out = []
    for _ in range(n):
        context = f"\n\nHuman: {fuzz.text()}"
        if fuzz.chance(0.3):
            context += f"\n\nAssistant: {fuzz.text()}\n\nHuman: {fuzz.text()}"
        record = {
            "chosen": f"{context}\n\nAssistant: {fuzz.text()}",
            "rejected": f"{context}\n\nAssistant: {fuzz.text()}",
        }
        if fuzz.chance(0.1):
            record["rejected"] = f"\n\nHuman: other\n\nAssistant: {fuzz.text()}"  # transcripts that differ
        if fuzz.chance(0.05):
            record["chosen"] = "no turns at all " + fuzz.text()
        out.append(fuzz.mutate(record, ["chosen", "rejected"]))
    return out


def _esconv_records(fuzz: Fuzz, n: int, upstream: bool = False, depth_max: int = 10_000) -> list:
    out: list = []
    for _ in range(n):
        if fuzz.chance(0.04):
            out.append(fuzz.junk(depth_max))  # not an object at all
            continue
        turns = []
        for i in range(fuzz.rng.randint(0, 7)):
            speaker = ("seeker", "supporter") if upstream else ("usr", "sys")
            turn = {"speaker": speaker[(i + fuzz.rng.randint(0, 1)) % 2]}
            turn["content" if upstream else "text"] = fuzz.text()
            if fuzz.chance(0.5):
                turn["strategy"] = fuzz.rng.choice(["Question", "Others", "Direct Guidance", "Reflection of feelings"])
            if fuzz.chance(0.06):
                turn[fuzz.rng.choice(["speaker", "text", "content", "strategy"])] = fuzz.junk(depth_max)
            turns.append(turn if not fuzz.chance(0.03) else fuzz.junk(depth_max))
        record = {
            "situation": fuzz.text(),
            "emotion_type": fuzz.rng.choice(["anxiety", "sadness", None, 3]),
            "survey_score": {"seeker": {"empathy": fuzz.rng.choice(["1", "2", "3", "4", "5", 5, None])}},
            "dialog": turns,
        }
        out.append(fuzz.mutate(record, ["situation", "survey_score", "dialog", "emotion_type"], depth_max))
    return out


def _counsel_records(fuzz: Fuzz, n: int) -> list[dict]:
    out, questions = [], []
    for _ in range(n):
        if not questions or fuzz.chance(0.3):
            questions.append((str(len(questions) + 1), fuzz.text(), fuzz.text()))
        qid, title, text = fuzz.rng.choice(questions)
        record = {
            "questionID": qid,
            "questionTitle": title,
            "questionText": text,
            "answerText": fuzz.text(),
            "upvotes": str(fuzz.rng.randint(0, 3)),
            "topic": fuzz.rng.choice(["depression", "anxiety", ""]),
        }
        if fuzz.chance(0.1):
            record["upvotes"] = fuzz.rng.choice(["many", "-2", "", "1.5", "9" * 40])
        out.append(fuzz.mutate(record, ["questionID", "questionTitle", "questionText", "answerText", "upvotes"]))
    return out


def _table(fuzz: Fuzz, records: list[dict], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame([{c: _cell(fuzz, r[c]) if c in r else None for c in columns} for r in records], dtype=object)


def _write_sources(fuzz: Fuzz, root) -> dict[str, dict]:
    """Every format's files under `root`: source name -> {uri, format, objective, rows: {file: row count}}."""
    sources = {}

    def add(name, fmt, uri, rows, objective=None):
        sources[name] = {"uri": str(uri), "format": fmt, "objective": objective, "rows": rows}

    data, n = _jsonl(fuzz, _canonical_records(fuzz, ROWS))
    (root / "canonical.jsonl").write_bytes(data)
    add("canonical-jsonl", "canonical", root / "canonical.jsonl", {root / "canonical.jsonl": n})

    columns = ["prompt", "chosen", "rejected", "objective", "split", "meta"]
    df = _table(fuzz, _canonical_records(fuzz, ROWS, depth_max=3000), columns)
    df.to_csv(root / "canonical.csv", index=False)
    add("canonical-csv", "canonical", root / "canonical.csv", {root / "canonical.csv": len(df)})

    df = _table(fuzz, _canonical_records(fuzz, ROWS, depth_max=3000), columns)
    df.astype("string").to_parquet(root / "canonical.parquet")
    add("canonical-parquet", "canonical", root / "canonical.parquet", {root / "canonical.parquet": len(df)})

    native = pd.DataFrame(  # nested Parquet types: prompt as a list of structs, meta as a struct
        [
            {
                "prompt": [
                    {"role": fuzz.rng.choice(["user", "user", "robot"]), "content": fuzz.text().replace("\ud800", "")}
                ],
                "chosen": fuzz.text().replace("\ud800", ""),
                "rejected": fuzz.rng.choice(["", "b", fuzz.text().replace("\ud800", "")]),
                "objective": fuzz.rng.choice(["empathy", "nope"]),
                "meta": {"n": fuzz.rng.randint(0, 5)},
            }
            for _ in range(ROWS // 4)
        ]
    )
    native.to_parquet(root / "native.parquet")
    add("canonical-native", "canonical", root / "native.parquet", {root / "native.parquet": len(native)})

    data, n = _jsonl(fuzz, _hh_records(fuzz, ROWS))
    (root / "hh.jsonl").write_bytes(data)
    add("hh", "hh-rlhf", root / "hh.jsonl", {root / "hh.jsonl": n}, objective="helpfulness")

    (root / "esconv").mkdir()
    data, n = _jsonl(fuzz, _esconv_records(fuzz, ROWS))
    (root / "esconv" / "ESConv.jsonl").write_bytes(data)
    failed = _esconv_records(fuzz, ROWS // 4, upstream=True, depth_max=200)  # a .json file parses whole
    (root / "esconv" / "FailedESConv.json").write_text(_dumps(failed))
    add(
        "esconv",
        "esconv",
        root / "esconv",
        {root / "esconv" / "ESConv.jsonl": n, root / "esconv" / "FailedESConv.json": len(failed)},
    )

    cc = _table(
        fuzz,
        _counsel_records(fuzz, ROWS),
        ["questionID", "questionTitle", "questionText", "answerText", "upvotes", "topic"],
    )
    cc.to_csv(root / "counsel.csv", index=False)
    add("counselchat", "counselchat", root / "counsel.csv", {root / "counsel.csv": len(cc)})
    return sources


def _params(project, cache, sources: dict):
    items = ", ".join(
        f"{{name: {name}, uri: '{s['uri']}', format: {s['format']}"
        + (f", objective: {s['objective']}" if s["objective"] else "")
        + "}"
        for name, s in sources.items()
    )
    return load_params("params.yaml", tiny(project, cache, f"data.sources=[{items}]", "data.max_quarantine_fraction=1"))


def test_fuzzed_rows_of_every_format_are_all_counted_and_nothing_crashes(project, model_cache):
    fuzz = Fuzz(SEED)
    sources = _write_sources(fuzz, project)
    report = ingest(_params(project, model_cache, sources), project / "out")

    quarantine = [json.loads(line) for line in (project / "out" / "quarantine.jsonl").read_text().splitlines()]
    by_source = Counter(q["source"] for q in quarantine)
    for name, source in sources.items():
        counts = report["sources"][name]
        assert report["input_rows"][name] == sum(source["rows"].values()), name
        assert counts["read"] == counts["accepted"] + counts["quarantined"] + counts["duplicates"], name
        assert by_source[name] == counts["quarantined"], name
        if source["format"] in ("canonical", "hh-rlhf"):  # one candidate per row: every row is accounted for
            assert counts["read"] == report["input_rows"][name], name
    for q in quarantine:  # each rejected row says where it is, and why
        files = {str(f): n for f, n in sources[q["source"]]["rows"].items()}
        number = q.get("line", q.get("row"))
        assert q["file"] in files and isinstance(number, int) and 1 <= number <= files[q["file"]], q
        assert q["reason"]
    for name in ("canonical-jsonl", "canonical-csv", "canonical-parquet", "hh"):  # no row counted twice, per file
        lines = [q.get("line", q.get("row")) for q in quarantine if q["source"] == name]
        assert len(lines) == len(set(lines)), name

    pairs, prompts = read_table(project / "out" / "pairs.parquet"), read_table(project / "out" / "prompts.parquet")
    assert len(pairs) + len(prompts) == sum(c["accepted"] for c in report["sources"].values())
    assert (report["pairs"], report["prompts"]) == (len(pairs), len(prompts))
    reasons = " | ".join(q["reason"] for q in quarantine)
    for expected in ("lone surrogate", "nested deeper", "not valid JSON", "is missing or empty", "not a JSON object"):
        assert expected in reasons, expected  # the fuzz reached each kind of fault
    assert report["sources"]["esconv"]["accepted"] > 0 and report["sources"]["counselchat"]["accepted"] > 0
    assert all(c["quarantined"] < c["read"] for c in report["sources"].values())  # not everything rejected


@pytest.mark.parametrize("fmt", ["canonical-jsonl", "hh", "counselchat", "esconv"])
def test_fuzzed_bytes_that_are_not_utf8_refuse_the_file_naming_it(project, model_cache, fmt):
    fuzz = Fuzz(SEED + 1)
    sources = _write_sources(fuzz, project)
    source = sources[fmt]
    path = next(f for f in source["rows"] if f.suffix in (".jsonl", ".csv"))
    raw = bytearray(path.read_bytes())
    line = fuzz.rng.randint(2, min(20, raw.count(b"\n") - 1))
    at = [i for i, b in enumerate(raw) if b == ord("\n")][line - 1] - 1  # just before the newline ending `line`
    raw[at:at] = bytes([fuzz.rng.choice([0xC3, 0xE9, 0xFF, 0x80])])
    path.write_bytes(bytes(raw))
    with pytest.raises(SourceError) as err:
        ingest(_params(project, model_cache, {fmt: source}), project / "out")
    assert str(path) in str(err.value) and "not UTF-8" in str(err.value)
    if path.suffix == ".jsonl":
        assert f"at line {line}" in str(err.value)
