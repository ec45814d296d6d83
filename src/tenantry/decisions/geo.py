"""Distances on the earth without PostGIS: a bounding box to prefilter, then the haversine.

The embedded PostgreSQL has no PostGIS or earthdistance. `bounding_box` gives latitude and
longitude bounds that contain every point within a radius of a centre (a btree on the
coordinates answers it); `haversine_km` is the exact great-circle distance, vectorised with
numpy over many pairs. `round_coordinate` (the domain's) is how a prospect's place is stored:
3 decimals, about 100 m. Pure functions, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tenantry.domain.leads import round_coordinate

__all__ = ["EARTH_RADIUS_KM", "Box", "bounding_box", "haversine_km", "round_coordinate"]

EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)


@dataclass(frozen=True, slots=True)
class Box:
    """Latitude and longitude bounds; `wraps` when the box crosses the antimeridian."""

    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float

    @property
    def wraps(self) -> bool:
        return self.min_lon > self.max_lon

    def contains(self, lat: float, lon: float) -> bool:
        if not self.min_lat <= lat <= self.max_lat:
            return False
        if self.wraps:
            return lon >= self.min_lon or lon <= self.max_lon
        return self.min_lon <= lon <= self.max_lon


def bounding_box(lat: float, lon: float, radius_km: float) -> Box:
    """Bounds containing every point within `radius_km` of (lat, lon) (never too small).

    Latitude spans radius / R radians. Longitude spans asin(sin(r) / cos(lat)), the widest
    the circle gets (at a latitude poleward of the centre); near a pole the box takes every
    longitude. A tiny margin covers floating-point rounding.
    """
    r = radius_km / EARTH_RADIUS_KM + 1e-9
    lat_r = math.radians(lat)
    min_lat, max_lat = lat_r - r, lat_r + r
    if max_lat >= math.pi / 2 or min_lat <= -math.pi / 2:
        return Box(
            math.degrees(max(min_lat, -math.pi / 2)),
            math.degrees(min(max_lat, math.pi / 2)),
            -180.0,
            180.0,
        )
    ratio = math.sin(r) / math.cos(lat_r)
    if ratio >= 1:
        return Box(math.degrees(min_lat), math.degrees(max_lat), -180.0, 180.0)
    d_lon = math.degrees(math.asin(ratio))
    min_lon, max_lon = lon - d_lon, lon + d_lon
    if min_lon < -180:
        min_lon += 360
    if max_lon > 180:
        max_lon -= 360
    return Box(math.degrees(min_lat), math.degrees(max_lat), min_lon, max_lon)


def haversine_km(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Great-circle distances in km; the arguments broadcast like numpy arrays (degrees)."""
    p1, p2 = np.radians(np.asarray(lat1, float)), np.radians(np.asarray(lat2, float))
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2, float)) - np.radians(np.asarray(lon1, float))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    out: npt.NDArray[np.float64] = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
    return out
