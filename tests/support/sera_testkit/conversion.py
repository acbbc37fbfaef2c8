"""The rows the conversion model int_conversion_parts hands to parts.build_parts, for tests that call it directly."""

from __future__ import annotations

from sera_rectify.sources import list_source_files


def conversion_files(folder: str, dataset: str, kind: str = "sera", source_format: str = "sera", rollout: str = "T1") -> list[dict]:
    """One row per data file of `folder` (a local folder or an s3:// prefix): stg_sera__source_files joined
    with its dataset (GLM-4.6, lite, `rollout`)."""
    return [
        {
            "source_dataset": f.dataset,
            "source_file": f.source_file,
            "file_path": f.path,
            "file_format": f.file_format,
            "file_bytes": f.file_bytes,
            "dataset_order": 1,
            "teacher": "GLM-4.6",
            "scale": "lite",
            "rollout": rollout,
            "source_format": source_format,
        }
        for f in list_source_files(folder, dataset, kind)
    ]
