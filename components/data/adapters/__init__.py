"""The format adapters ingest and `paretoflow score` read sources with: format name -> adapter."""

from __future__ import annotations

from components.data.adapters.esconv import ESCONV_IGNORE, adapt_esconv
from components.data.adapters.formats import (
    COUNSEL_COLUMNS,
    Adapter,
    canonical_record,
    counselchat_rows,
    hh_rlhf_record,
    per_record,
)


def adapters() -> dict[str, Adapter]:
    return {
        "canonical": Adapter(per_record(canonical_record)),
        "hh-rlhf": Adapter(per_record(hh_rlhf_record), columns=("chosen", "rejected"), needs_objective=True),
        "esconv": Adapter(adapt_esconv, ignore=ESCONV_IGNORE, objective="empathy"),
        "counselchat": Adapter(counselchat_rows, columns=COUNSEL_COLUMNS, objective="empathy"),
    }
