#include "correlate/correlator.hpp"

#include "store/store.hpp"

#include <casehub/sdk/rfc3339.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace casehub::host::correlate {

using nlohmann::json;

namespace {

std::string str(const json& obj, const char* key) {
    if (!obj.is_object()) return {};
    auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A local metric plane around the district (equirectangular at 32.03° N): metres, good to
// well under a metre across the city, which is all distances between reports need.
constexpr double kLon0 = 118.79, kLat0 = 32.03;
constexpr double kMx = 94395.0;   // metres per degree of longitude at 32.03° N
constexpr double kMy = 110880.0;  // metres per degree of latitude
constexpr std::int64_t kEpochMs = 946684800000;  // 2000-01-01T00:00Z: R-tree minutes count from here

double metres(double lon1, double lat1, double lon2, double lat2) {
    const double dx = (lon1 - lon2) * kMx, dy = (lat1 - lat2) * kMy;
    return std::sqrt(dx * dx + dy * dy);
}

// printf's "%.*f" (std::to_chars is specified as printf in the C locale) without printf's
// format parsing: every decision's summary formats four to eight numbers.
std::string fmt(double v, int prec) {
    char b[400];  // room for any double in fixed notation
    const auto r = std::to_chars(b, b + sizeof b, v, std::chars_format::fixed, prec);
    return std::string(b, r.ec == std::errc() ? r.ptr : b);
}

std::string key(const std::string& system, const std::string& id) { return system + ":" + id; }

bool ended_long_ago(std::int64_t ended_ms, std::int64_t reported_ms, const Settings& s) {
    return ended_ms > 0 && reported_ms - ended_ms > static_cast<std::int64_t>(s.closed_grace_hours * 3600000.0);
}

}  // namespace

CorrRecordRow index_row(const Profile& p, const std::string& case_id, const Settings& s) {
    CorrRecordRow r;
    r.system = p.system;
    r.record_id = p.record_id;
    r.case_id = case_id;
    r.located = p.located;
    r.lon = p.lon, r.lat = p.lat, r.precision_m = p.precision_m, r.reported_ms = p.reported_ms;
    r.date_only = p.date_only;
    r.category = p.category, r.family = p.family;
    r.text = to_bytes(p.text), r.address = to_bytes(p.address);
    r.place = p.place.to_string();
    const double pad = std::min(s.max_distance_m, 3.0 * p.spread_m());
    const double x = (p.lon - kLon0) * kMx, y = (p.lat - kLat0) * kMy;
    const auto t = static_cast<std::int32_t>((p.reported_ms - kEpochMs) / 60000);
    r.box = {static_cast<std::int32_t>(std::floor(x - pad)), static_cast<std::int32_t>(std::ceil(x + pad)),
             static_cast<std::int32_t>(std::floor(y - pad)), static_cast<std::int32_t>(std::ceil(y + pad)), t,
             t + (p.date_only ? 1440 : 0)};
    return r;
}

bool compatible(const std::string& a, const std::string& b, const Settings& s) {
    if (a == b) return true;
    for (const auto& [x, y] : s.compatible_families)
        if ((x == a && y == b) || (x == b && y == a)) return true;
    return false;
}

Profile make_profile(const json& rec, const json& loc, const Category& cat, const Settings& s) {
    Profile p;
    const json& src = rec["source"];
    p.system = str(src, "system");
    p.record_id = str(src, "record_id");
    p.offset_m = report_offset(s, p.system);
    if (loc.is_object() && loc["wgs84"].is_object()) {
        p.located = true;
        p.lon = loc["wgs84"].value("lon", 0.0);
        p.lat = loc["wgs84"].value("lat", 0.0);
        p.precision_m = loc["precision_m"].is_number() ? loc["precision_m"].get<int>() : 300;
    }
    const std::string reported = str(rec.contains("times") ? rec["times"] : json(), "reported_at");
    p.reported_ms = sdk::parse_rfc3339_ms(reported).value_or(0);
    // 00:00:00 local, no fraction: the source knew the day only (enforcement's 立案日期).
    p.date_only = reported.size() >= 19 && reported.compare(10, 9, "T00:00:00") == 0 &&
                  (reported.size() == 19 || reported[19] != '.') && ((p.reported_ms + 8 * 3600000) % 86400000) == 0;
    p.category = cat.code;
    p.family = cat.family;
    // The address as the source wrote it, or as located; the district and street names are on
    // every address and say nothing.
    std::string address = str(loc, "address");
    if (address.empty() && rec.contains("location")) address = str(rec["location"], "address");
    p.address = bigrams(strip_phrases(address, {"南京市", "秦淮区", "街道办事处", "街道", "社区"}));
    const std::string text = str(rec, "title") + "。" + str(rec, "description");
    p.text = bigrams(strip_phrases(text, s.stop_phrases), &p.address);
    p.place = parse_place(address);
    return p;
}

JsonObjectText Evidence::to_object() const {
    auto r2 = [](double v) { return std::round(v * 100) / 100; };
    JsonObjectText llr;
    llr.number("distance", r2(l_distance)).number("time", r2(l_time)).number("category", r2(l_category));
    llr.number("text", r2(l_text)).number("address", r2(l_address));
    JsonObjectText o;
    o.number("score", r2(score)).string("category", category).number("text", r2(text)).number("address", r2(address));
    if (place.empty()) o.null("place");
    else o.string("place", place);
    o.number("minutes", std::round(minutes)).object("llr", llr);
    if (distance_m >= 0) o.number("distance_m", std::round(distance_m)).number("sigma_m", std::round(sigma_m));
    else o.null("distance_m");
    return o;
}

std::string Evidence::summary() const {
    std::string out = distance_m >= 0 ? fmt(distance_m, 0) + " m (±" + fmt(sigma_m, 0) + ")" : "no location";
    out += ", " + (minutes < 120 ? fmt(minutes, 0) + " min" : fmt(minutes / 60.0, 1) + " h");
    out += category == "same" ? ", same category" : category == "family" ? ", same family" :
           category == "compatible" ? ", related families" : category == "unknown" ? ", unclassified" : ", incompatible categories";
    out += ", text " + fmt(text, 2);
    if (place.empty()) out += ", address " + fmt(address, 2);
    else out += ", " + std::string(place == "same_number" ? "same address" : place == "other_number" ? "same road, other number" :
                                   place == "other_road" ? "other road" : place == "same_landmark" ? "same landmark" :
                                   place == "other_landmark" ? "other landmark" : "road vs landmark");
    return out;
}

std::optional<double> place_llr(const Place& a, const Place& b, const Settings& s, std::string* name) {
    using K = Place::Kind;
    if (a.kind == K::none || b.kind == K::none) return std::nullopt;
    auto out = [&](const char* n, double v) {
        if (name) *name = n;
        return std::optional<double>(v);
    };
    if (a.kind == K::road && b.kind == K::road) {
        if (a.name != b.name) return out("other_road", s.place_other_road);
        return a.number == b.number ? out("same_number", s.place_same_number) : out("other_number", s.place_other_number);
    }
    if (a.kind == K::landmark && b.kind == K::landmark)
        return a.name == b.name ? out("same_landmark", s.place_same_landmark) : out("other_landmark", s.place_other_landmark);
    return out("mixed", s.place_mixed);
}

void measure_gap(const Profile& a, const Profile& b, Evidence& e) {
    if (a.located && b.located) {
        e.distance_m = metres(a.lon, a.lat, b.lon, b.lat);
        e.sigma_m = std::max(10.0, std::sqrt(double(a.precision_m) * a.precision_m + double(b.precision_m) * b.precision_m +
                                             a.offset_m * a.offset_m + b.offset_m * b.offset_m));
    }
    // A date-only report covers its whole day: the gap is to the nearest moment of it.
    const std::int64_t day = 86400000;
    const std::int64_t a0 = a.reported_ms, a1 = a.reported_ms + (a.date_only ? day : 0);
    const std::int64_t b0 = b.reported_ms, b1 = b.reported_ms + (b.date_only ? day : 0);
    e.minutes = double(std::max<std::int64_t>({0, a0 - b1, b0 - a1})) / 60000.0;
}

Evidence compare(const Profile& a, const Profile& b, const Settings& s) {
    Evidence e;
    e.score = s.prior;
    measure_gap(a, b, e);
    if (a.located && b.located) {
        const double z = e.distance_m / e.sigma_m;
        e.l_distance = z < 4 ? s.distance_near - s.distance_slope * z * z : s.distance_far;
    }
    const double m = e.minutes, full = s.full_time_minutes;
    if ((a.date_only || b.date_only) && m == 0) e.l_time = s.time_same_day;
    else if (m <= full) e.l_time = s.time_near;
    else if (m <= 180) e.l_time = s.time_near + (m - full) / std::max(1.0, 180 - full) * (s.time_at_3h - s.time_near);
    else if (m <= 1440) e.l_time = s.time_at_3h + (m - 180) / 1260 * (s.time_at_24h - s.time_at_3h);
    else e.l_time = s.time_far;
    if (a.category == b.category) e.category = "same", e.l_category = s.same_category;
    else if (a.category == "other.unclassified" || b.category == "other.unclassified")
        e.category = "unknown", e.l_category = s.unknown_category;
    else if (a.family == b.family) e.category = "family", e.l_category = s.same_family;
    else if (compatible(a.family, b.family, s)) e.category = "compatible", e.l_category = s.compatible_family;
    else e.category = "incompatible";
    e.text = dice(a.text, b.text);
    e.l_text = s.text_high * std::max(0.0, e.text - 0.6) / 0.4;
    e.address = dice(a.address, b.address);
    if (auto pl = place_llr(a.place, b.place, s, &e.place)) e.l_address = *pl;
    else if (!a.address.empty() && !b.address.empty())
        e.l_address = s.address_none + (s.address_full - s.address_none) * e.address * e.address;
    e.score += e.l_distance + e.l_time + e.l_category + e.l_text + e.l_address;
    return e;
}

Result<Decision> Correlator::decide(Store& store, const json& rec, const Profile& p) const {
    Decision d;
    const std::string self = key(p.system, p.record_id);
    d.detail.string("record", self);

    // 1. Explicit links, both ways: this record names another, or another named this one.
    std::vector<std::pair<std::string, json>> linked;  // case_id, link
    if (rec.contains("links") && rec["links"].is_array())
        for (const auto& l : rec["links"]) {
            const std::string rel = str(l, "relation");
            if (rel != "duplicate_of" && rel != "transferred_from") continue;
            auto found = store.find_source(str(l, "system"), str(l, "record_id"));
            if (!found) return found.error();
            if (*found)
                linked.push_back({(*found)->case_id, {{"link", key(str(l, "system"), str(l, "record_id"))}, {"relation", rel}}});
        }
    auto back = store.records_linking_to(self);
    if (!back) return back.error();
    for (const auto& [source, rel] : *back) {
        const auto colon = source.find(':');
        auto found = store.find_source(source.substr(0, colon), source.substr(colon + 1));
        if (!found) return found.error();
        if (*found) linked.push_back({(*found)->case_id, {{"link", source}, {"relation", rel}, {"named_by", true}}});
    }
    for (auto& [case_id, link] : linked) {
        auto c = store.find_case(case_id);
        if (!c) return c.error();
        if (!*c) continue;
        std::string target = (*c)->merged_into.value_or(case_id);
        if (target != case_id) {
            c = store.find_case(target);
            if (!c) return c.error();
            if (!*c) continue;
        }
        if (ended_long_ago((*c)->ended_at, p.reported_ms, s_)) {
            const std::string l = link["link"];
            const auto colon = l.find(':');
            d.related = {l.substr(0, colon), l.substr(colon + 1)};
            JsonObjectText related;
            related.string("case", target).value("link", link);
            related.string("reason", "ended more than " + fmt(s_.closed_grace_hours, 0) + " h before this report");
            d.detail.string("decision", "new").object("related", related);
            d.summary = "opened a new case: linked " + l + " is in " + target + ", which ended more than " +
                        fmt(s_.closed_grace_hours, 0) + " h before this report (linked as related)";
            return d;
        }
        d.join = target;
        d.detail.string("decision", "joined").string("case", target).value("evidence", link);
        d.summary = "joined " + target + ": explicit link " + link["link"].get<std::string>() + " (" +
                    link["relation"].get<std::string>() + (link.contains("named_by") ? ", named by that record" : "") + ")";
        return d;
    }

    if (!s_.enabled) {
        d.detail.string("decision", "new");
        d.summary = "opened a new case: automatic correlation is off";
        return d;
    }
    if (!p.located) {
        d.detail.string("decision", "new").string("reason", "no location: only explicit links can join it");
        d.summary = "opened a new case: no location, and no explicit link to a known record";
        return d;
    }

    // 2. Candidates from the spatial-temporal index.
    const double radius = std::min(s_.max_distance_m, std::max(s_.min_radius_m, 3.0 * p.spread_m()));
    const double x = (p.lon - kLon0) * kMx, y = (p.lat - kLat0) * kMy;
    const double t = double(p.reported_ms - kEpochMs) / 60000.0, gap = s_.max_gap_hours * 60.0;
    // Categories are filtered after the search: a family dimension in the R*Tree (tried) makes
    // its boxes cluster badly and the search 10× slower at 100k records.
    CorrBox q{static_cast<std::int32_t>(std::floor(x - radius)), static_cast<std::int32_t>(std::ceil(x + radius)),
              static_cast<std::int32_t>(std::floor(y - radius)), static_cast<std::int32_t>(std::ceil(y + radius)),
              static_cast<std::int32_t>(std::floor(t - gap)), static_cast<std::int32_t>(std::ceil(t + gap + (p.date_only ? 1440 : 0)))};
    // Only families that can join reach the scoring: the rest are vetoed inside the search.
    std::string families;
    if (p.category != "other.unclassified") {
        families = "," + p.family + ",";
        for (const auto& [a, b] : s_.compatible_families) {
            if (a == p.family) families += b + ",";
            if (b == p.family) families += a + ",";
        }
    }

    struct Best {
        Evidence e;
        std::string record;
        bool ended = false;
        std::string penalty;  // a contradiction with another record of the case
    };
    std::map<std::string, Best> per_case;
    int vetoed_split = 0;
    // Split pairs are rare: ask once whether this record has any before checking each hit.
    auto any_split = store.has_split_pairs(self);
    if (!any_split) return any_split.error();
    std::set<std::string> split_cases;
    Profile c;  // one for all hits: its strings and signatures keep their storage
    auto too_far = [&](const Evidence& e) { return e.distance_m > std::max(radius, 3.0 * e.sigma_m) || e.minutes > gap; };
    auto hits = store.corr_candidates(q, families, s_.max_candidates, [&](const CorrHit& h) -> Result<void> {
        c.system = h.system;
        c.offset_m = report_offset(s_, c.system);
        c.located = h.located;
        c.lon = h.lon, c.lat = h.lat, c.precision_m = h.precision_m, c.reported_ms = h.reported_ms;
        c.date_only = h.date_only;
        // Most hits of the box search (58 % in casehub-bench-apply's records) are ruled out
        // by distance or time: before their text, address and place are read.
        Evidence gap_only;
        measure_gap(p, c, gap_only);
        if (too_far(gap_only)) return {};
        c.record_id = h.record_id;
        c.category = h.category, c.family = h.family;
        from_bytes(h.text, c.text), from_bytes(h.address, c.address);
        c.place = Place::from_string(h.place);
        Evidence e = compare(p, c, s_);
        if (too_far(e)) return {};
        if (*any_split) {
            auto split = store.split_pair(self, key(c.system, c.record_id));
            if (!split) return split.error();
            if (*split) {
                ++vetoed_split;
                split_cases.emplace(h.case_id);
                return {};
            }
        }
        Best& b = per_case[std::string(h.case_id)];
        if (b.record.empty() || e.score > b.e.score) {
            b.e = e;
            b.record = key(c.system, c.record_id);
            b.ended = ended_long_ago(h.case_ended_ms, p.reported_ms, s_);
        }
        return {};
    });
    if (!hits) return hits.error();
    // A case with a split-apart record is never joined, whatever its other records say.
    for (const auto& c : split_cases) per_case.erase(c);
    const Best* best = nullptr;
    const std::string* best_case = nullptr;
    const Best* best_ended = nullptr;
    const std::string* best_ended_case = nullptr;
    int full = 0;
    for (auto& [cid, b] : per_case) {
        if (b.e.score + 0.0 < s_.threshold && !b.ended) continue;
        // Contradictions with any record of the case, not only the closest: a record of the same
        // system (which did not name this one), or a place that rules it out.
        auto members = store.corr_members(cid);
        if (!members) return members.error();
        if (static_cast<int>(members->size()) >= s_.max_case_records && !b.ended) {
            ++full;
            b.e.score = -1e9;
            continue;
        }
        double penalty = 0;
        std::string why;
        for (const auto& [system, place] : *members) {
            if (system == p.system && s_.same_system < penalty) penalty = s_.same_system, why = "same system " + system;
            auto pl = place_llr(p.place, Place::from_string(place), s_);
            if (pl && *pl < -3.0 && *pl < penalty) penalty = *pl, why = "place of " + system + " record";
        }
        if (penalty < 0) {
            b.e.score += penalty;
            b.penalty = why + " (" + fmt(penalty, 1) + ")";
        }
    }
    for (const auto& [cid, b] : per_case) {
        if (b.ended) {
            if (!best_ended || b.e.score > best_ended->e.score) best_ended = &b, best_ended_case = &cid;
            continue;
        }
        if (!best || b.e.score > best->e.score) best = &b, best_case = &cid;
    }
    if (full) d.detail.integer("skipped_full_cases", full);
    d.candidates = *hits;
    d.detail.integer("candidates", *hits);
    if (vetoed_split) d.detail.integer("vetoed_split", vetoed_split);
    d.detail.number("threshold", s_.threshold);
    if (best && best->e.score >= s_.threshold) {
        d.join = *best_case;
        d.detail.string("decision", "joined").string("case", *best_case).string("matched", best->record);
        d.detail.object("evidence", best->e.to_object());
        if (!best->penalty.empty()) d.detail.string("penalty", best->penalty);
        d.summary = "joined " + *best_case + ": " + best->e.summary() + " (score " + fmt(best->e.score, 2) +
                    ", with " + best->record + ")";
        return d;
    }
    d.detail.string("decision", "new");
    if (best_ended && best_ended->e.score >= s_.threshold) {
        const auto colon = best_ended->record.find(':');
        d.related = {best_ended->record.substr(0, colon), best_ended->record.substr(colon + 1)};
        JsonObjectText related;
        related.string("case", *best_ended_case).string("matched", best_ended->record);
        related.object("evidence", best_ended->e.to_object());
        related.string("reason", "ended more than " + fmt(s_.closed_grace_hours, 0) + " h before this report");
        d.detail.object("related", related);
        d.summary = "opened a new case: " + *best_ended_case + " matches (" + best_ended->e.summary() + ", score " +
                    fmt(best_ended->e.score, 2) + ") but ended more than " + fmt(s_.closed_grace_hours, 0) +
                    " h before this report (linked as related)";
        return d;
    }
    if (best) {
        JsonObjectText closest;
        closest.string("case", *best_case).string("matched", best->record).object("evidence", best->e.to_object());
        if (!best->penalty.empty()) closest.string("penalty", best->penalty);
        d.detail.object("best", closest);
        d.summary = "opened a new case: the closest, " + *best_case + ", scores " + fmt(best->e.score, 2) +
                    " < " + fmt(s_.threshold, 2) + " (" + best->e.summary() +
                    (best->penalty.empty() ? "" : "; " + best->penalty) + ")";
    } else {
        d.summary = "opened a new case: no open case nearby (" + std::to_string(*hits) + " indexed record(s) examined)";
    }
    return d;
}

}  // namespace casehub::host::correlate
