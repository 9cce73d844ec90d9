"""Open data portals. Each kind translates the one query model (bot/query.py):

    file     CSV / JSON files on disk, executed with pandas        (sources/file.py)
    socrata  SoQL $select/$where/$group/$order/$limit              (sources/socrata.py)
    arcgis   outStatistics + groupByFieldsForStatistics            (sources/arcgis.py)
    ckan     datastore_search_sql, or datastore_search paged       (sources/ckan.py)

Modules are imported only when a portal of their kind is opened, so commands that do not
fetch stay light.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from bot.settings import PortalConfig

_CLASSES = {"file": ("bot.sources.file", "FileSource"),
            "socrata": ("bot.sources.socrata", "SocrataSource"),
            "arcgis": ("bot.sources.arcgis", "ArcGISSource"),
            "ckan": ("bot.sources.ckan", "CKANSource")}


def open_source(portal: PortalConfig, tz: str, *, cache_dir: Path | None = None,
                no_cache: bool = False, **kw: Any) -> Any:
    """A source object for `portal`, with fetch(query) and describe(dataset)."""
    module, cls = _CLASSES[portal.kind]
    klass = getattr(importlib.import_module(module), cls)
    return klass(portal, tz, cache_dir=cache_dir, no_cache=no_cache, **kw)
