"""The versions of ingest's remote sources, for its cache key: a scheduled retrain ingests again when the data
behind an `s3://` or `hf://` uri changed, and only then (local files enter the key by their md5s, as DVC deps).

- `s3://bucket/prefix`: the listing of the objects the source reads (key, ETag, size from list_objects_v2 under
  the source's endpoint_url); an added, removed or rewritten object changes it.
- `hf://` a local folder (a `save_to_disk` dataset with its arrow files and state.json, or a folder of data
  files): its content md5, through the md5 state db, so an unchanged folder is not read again.
- `hf://` a Hub id: the dataset repository's commit (from the Hub, or offline the snapshot the local cache holds).
  A version that cannot be found is a fresh token every time, so ingest runs rather than serve stale data.
"""

from __future__ import annotations

import hashlib
import json
import sys
import uuid
from pathlib import Path

from components.data.adapters import adapters
from components.data.sources import hf_location, s3_objects
from paretoflow.hashing import dvc_md5


def remote_versions(params) -> dict[str, str] | None:
    """Source name -> version for every s3:// and hf:// source (None when every source is local)."""
    formats = adapters()
    versions = {}
    for source in params.data.sources:
        if source.uri.startswith("s3://"):
            versions[source.name] = s3_version(source.uri, formats[source.format].ignore, source.endpoint_url)
        elif source.uri.startswith("hf://"):
            versions[source.name] = hf_version(source.uri)
    return versions or None


def s3_version(uri: str, ignore: tuple[str, ...] = (), endpoint_url: str | None = None) -> str:
    listing = [[o["Key"], o["ETag"], o["Size"]] for o in s3_objects(uri, ignore, endpoint_url)]
    return "s3-listing:" + hashlib.md5(json.dumps(listing).encode()).hexdigest()


def hf_version(uri: str, hub_cache: str | Path | None = None) -> str:
    """As `components.data.sources` resolves an `hf://` uri (`hf_location`): a local folder first, else a Hub id
    (whose data_dir and config are parts of the one repository commit)."""
    where = hf_location(uri)
    if where.local:
        return "md5:" + dvc_md5(where.path)
    revision = hub_revision(where.path, hub_cache)
    if revision:
        return "revision:" + revision
    sys.stderr.write(f"{uri}: no revision found for this dataset (Hub unreachable and not cached); ingest runs\n")
    return "unversioned:" + uuid.uuid4().hex


def hub_revision(name: str, hub_cache: str | Path | None = None) -> str | None:
    """The dataset repository's current commit on the Hub; offline (HF_HUB_OFFLINE, as `paretoflow run` sets it, or
    no network) the commit of the snapshot in the local cache, which is what `datasets` then loads."""
    from huggingface_hub import HfApi, constants, snapshot_download

    if not constants.HF_HUB_OFFLINE:
        try:
            return HfApi().dataset_info(name).sha
        except Exception:  # no network, a private or unknown repo: what the cache holds is what loads
            pass
    try:
        snapshot = snapshot_download(name, repo_type="dataset", local_files_only=True, cache_dir=hub_cache)
    except Exception:  # not in the cache either
        return None
    return Path(snapshot).name
