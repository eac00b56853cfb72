// A WGS-84 (EPSG:4326) position in degrees, longitude first as in GeoJSON. Shared by the geo
// layer (placement, coordinate normalization, geocoding).
#pragma once

namespace casehub::host::geo {

struct LonLat {
    double lon = 0.0;
    double lat = 0.0;
};

}  // namespace casehub::host::geo
