"""The DuckDB warehouse: append-only history and the cache of takes."""

from warehouse.store import Warehouse, WarehouseBusy, migrate

__all__ = ["Warehouse", "WarehouseBusy", "migrate"]
