#include "pipeline/pipeline.hpp"

#include "pipeline/status_rules.hpp"

#include <casehub/sdk/record_check.hpp>
#include <casehub/sdk/rfc3339.hpp>

#include <charconv>
#include <cmath>

namespace casehub::host {

using nlohmann::json;

namespace {

const char* kBuiltins[] = {"dcm", "hotline12345", "enforcement", "police", "gridapp", "open311"};

std::string str(const json& obj, const char* key) {
    auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// -1, 0, 1 comparing two versions of the same form (§2.4: instants, or unsigned integers).
int compare_versions(std::string_view a, std::string_view b, sdk::VersionForm form) {
    if (form == sdk::VersionForm::timestamp) {
        auto x = sdk::parse_rfc3339_ms(a), y = sdk::parse_rfc3339_ms(b);
        if (!x || !y) return 0;
        return *x < *y ? -1 : *x > *y ? 1 : 0;
    }
    std::uint64_t x = 0, y = 0;
    std::from_chars(a.data(), a.data() + a.size(), x);
    std::from_chars(b.data(), b.data() + b.size(), y);
    return x < y ? -1 : x > y ? 1 : 0;
}

const char* form_name(sdk::VersionForm f) { return f == sdk::VersionForm::timestamp ? "timestamp" : "revision"; }

bool is_street(std::string_view s) {
    if (s.size() != 9 || s.substr(0, 6) != "320104") return false;
    int n = (s[6] - '0') * 100 + (s[7] - '0') * 10 + (s[8] - '0');
    return n >= 1 && n <= 12;
}

double round6(double v) { return std::round(v * 1e6) / 1e6; }

std::string day_of(std::int64_t ms) {  // YYYYMMDD in +08:00
    std::string t = sdk::format_rfc3339_beijing(ms);
    return t.substr(0, 4) + t.substr(5, 2) + t.substr(8, 2);
}

}  // namespace

const char* to_string(Outcome o) {
    switch (o) {
        case Outcome::applied: return "applied";
        case Outcome::same_version_changed: return "same_version_changed";
        case Outcome::duplicate: return "duplicate";
        case Outcome::stale: return "stale";
        case Outcome::dead_lettered: return "dead_lettered";
    }
    return "?";
}

Pipeline::Pipeline(Categories categories, const std::vector<std::string>& systems,
                   std::shared_ptr<const Locator> locator)
    : categories_(std::move(categories)), locator_(std::move(locator)) {
    for (const char* s : kBuiltins) systems_.insert(s);
    systems_.insert(systems.begin(), systems.end());
}

Result<Outcome> Pipeline::dead_letter(Store& store, std::string_view adapter, std::string_view cursor,
                                      std::int64_t now_ms, std::string reason, std::string path,
                                      std::string detail, std::string doc, Counters& counters,
                                      std::string* fault_out) {
    if (fault_out) {
        *fault_out = reason + " at " + path;
        return Outcome::dead_lettered;
    }
    DeadLetterRow d;
    d.adapter = adapter;
    d.received_at = now_ms;
    d.stage = "validation";
    d.reason = std::move(reason);
    d.path = std::move(path);
    d.detail = std::move(detail);
    d.cursor = cursor;
    d.doc = std::move(doc);
    if (auto r = store.add_dead_letter(d); !r) return r.error();
    ++counters.dead_lettered;
    return Outcome::dead_lettered;
}

Locator::Located simple_location(const json& rec) {
    Locator::Located out;
    const json null;
    const json& loc_in = rec.contains("location") ? rec["location"] : null;
    const json& src = rec["source"];
    std::string address = loc_in.is_object() ? str(loc_in, "address") : "";
    json& loc = out.location;
    loc = {{"original", loc_in.is_object() && loc_in.contains("original") ? loc_in["original"] : json()},
           {"address", address.empty() ? json() : json(address)},
           {"wgs84", nullptr}, {"method", "none"}, {"precision_m", nullptr}, {"source", nullptr},
           {"street_code", nullptr}, {"community_code", nullptr}, {"grid_code", nullptr},
           {"special_grids", json::array()}};
    const json& orig = loc["original"];
    if (orig.is_object() && orig["x"].is_number() && orig["y"].is_number()) {
        const std::string crs = str(orig, "crs");
        const double x = orig["x"].get<double>(), y = orig["y"].get<double>();
        if ((crs == "WGS84" || crs == "CGCS2000") && x > 118.5 && x < 119.1 && y > 31.8 && y < 32.3) {
            loc["wgs84"] = {{"lon", round6(x)}, {"lat", round6(y)}};
            loc["method"] = "coordinates";
            loc["precision_m"] = 15;
        }
    }
    const std::string grid = loc_in.is_object() ? str(loc_in, "grid_code") : "";
    if (grid.size() == 14 && is_street(grid.substr(0, 9)) &&
        grid.find_first_not_of("0123456789") == std::string::npos) {
        loc["street_code"] = grid.substr(0, 9);
        loc["community_code"] = grid.substr(0, 12);
        loc["grid_code"] = grid;
        if (loc["method"] == "none") loc["method"] = "grid_code";
    }
    if (loc["method"] != "none")
        loc["source"] = {{"system", src["system"]}, {"record_id", src["record_id"]}};
    return out;
}

json case_from_record(const json& rec, const Locator::Located& where, const Category& cat,
                      std::string_view case_id, std::string_view created_at,
                      std::string_view updated_at, std::uint64_t seq, const CaseStatus& st) {
    const json& src = rec["source"];
    const json null;
    auto get = [&](const char* k) -> const json& {
        auto it = rec.find(k);
        return it == rec.end() ? null : *it;
    };
    const json& loc = where.location;
    // Title: the record's, else "<category name_zh>：<address>".
    const std::string address = loc["address"].is_string() ? loc["address"].get<std::string>() : "";
    json title = get("title");
    if (!title.is_string() || title.get<std::string>().empty())
        title = address.empty() ? cat.name_zh : cat.name_zh + "：" + address;

    json responsible = json::array();
    if (get("responsible").is_array())
        for (const auto& r : get("responsible")) {
            json u = r;
            u["system"] = src["system"];
            responsible.push_back(std::move(u));
        }
    json times = get("times").is_object() ? get("times") : json::object();
    for (const char* k : {"registered_at", "dispatched_at", "due_at", "resolved_at", "closed_at"})
        if (!times.contains(k)) times[k] = nullptr;
    // The hub stamps the moment a case enters resolved / closed when the source did not.
    if (st.status == Status::resolved && times["resolved_at"].is_null()) times["resolved_at"] = times["updated_at"];
    if (st.status == Status::closed && times["closed_at"].is_null()) times["closed_at"] = times["updated_at"];

    auto arr = [&](const char* k) { return get(k).is_array() ? get(k) : json::array(); };
    return {
        {"schema", "casehub.case/1"},
        {"case_id", case_id},
        {"seq", seq},
        {"created_at", created_at},
        {"updated_at", updated_at},
        {"kind", get("kind")},
        {"appeal_type", get("appeal_type")},
        {"channel", get("channel")},
        {"category", get("category")},
        {"title", title},
        {"description", get("description")},
        {"status", to_string(st.status)},
        {"priority", get("priority").is_string() ? get("priority") : json(cat.default_priority)},
        {"times", times},
        {"location", loc},
        // Routing rules come with the command centre; until then a placed case is the street's,
        // and one outside the district or unplaced goes to the district level.
        {"escalation_level", loc["street_code"].is_string() && !where.outside_district ? "street" : "district"},
        {"reporter", get("reporter")},
        {"parties", arr("parties")},
        {"responsible", responsible},
        {"tags", arr("tags")},
        {"satisfaction", get("satisfaction")},
        {"confidentiality", get("confidentiality")},
        {"attachments", arr("attachments")},
        {"links", arr("links")},
        {"sources", json::array({{{"system", src["system"]},
                                  {"record_id", src["record_id"]},
                                  {"version", src["version"]},
                                  {"raw_sha256", get("raw_sha256")},
                                  {"status", get("status")},
                                  {"status_native", get("status_native")},
                                  {"received_at", src["received_at"]}}})},
        {"merged_from", json::array()},
        {"merged_into", nullptr},
        {"closed_by", st.closed_by ? json(*st.closed_by) : json()},
        {"reopen_count", st.reopen_count},
    };
}

Result<Outcome> Pipeline::apply(Store& store, std::string_view adapter, std::string_view bytes,
                                std::string_view cursor, std::int64_t now_ms, std::vector<EventRow>& events,
                                Counters& counters, std::string* fault_out) {
    ++counters.records_in;
    json rec;
    sdk::RecordCheckOptions opts{&systems_, &categories_.codes()};
    if (auto fault = sdk::parse_and_check_record(bytes, rec, opts)) {
        // Personal data never reaches the store raw: the dead-letter copy is withheld.
        std::string doc = fault->reason == "unmasked_personal_data"
                              ? sdk::withhold_personal_data(rec).dump()
                              : std::string(bytes);
        return dead_letter(store, adapter, cursor, now_ms, fault->reason, fault->path, fault->message,
                           std::move(doc), counters, fault_out);
    }
    const json& src = rec["source"];
    const std::string system = src["system"], record_id = src["record_id"], version = src["version"];
    const std::string sha = rec["raw_sha256"];
    const auto form = *sdk::version_form(version);
    const Category* cat = categories_.find(rec["category"]["code"].get<std::string>());
    const Status x = *parse_status(rec["status"].get<std::string>());

    auto prior = store.find_source(system, record_id);
    if (!prior) return prior.error();
    bool same_version_changed = false;
    if (*prior) {
        const SourceRow& p = **prior;
        if (p.version_form != form_name(form))
            return dead_letter(store, adapter, cursor, now_ms, "bad_version", "$.source.version",
                               "$.source.version: '" + version + "' is a " + form_name(form) +
                                   " but this record's earlier versions are " + p.version_form + "s",
                               std::string(bytes), counters, fault_out);
        const int c = compare_versions(version, p.version, form);
        if (c < 0) {
            ++counters.stale;
            return Outcome::stale;
        }
        if (c == 0 && p.raw_sha256 == sha) {
            ++counters.duplicates;
            return Outcome::duplicate;
        }
        same_version_changed = c == 0;
    }

    const std::string now = sdk::format_rfc3339_beijing(now_ms, true);
    std::string case_id, created_at = now;
    CaseStatus st;
    std::string event_type = "created";
    json detail = {{"record", system + ":" + record_id}, {"version", version}};
    if (*prior) {
        case_id = (*prior)->case_id;
        auto doc = store.case_doc(case_id);
        if (!doc) return doc.error();
        json old = *doc ? json::parse(**doc, nullptr, false) : json();
        if (old.is_object()) {
            created_at = old.value("created_at", now);
            st.status = parse_status(old.value("status", "new")).value_or(Status::new_);
            if (old["closed_by"].is_string()) st.closed_by = old["closed_by"].get<std::string>();
            st.reopen_count = old.value("reopen_count", 0);
        }
        const Status before = st.status;
        const auto p = parse_status((*prior)->status).value_or(Status::new_);
        st = apply_source_change(st, p, x, {x});
        detail["move"] = to_string(classify(p, x));
        detail["source_status"] = {{"from", to_string(p)}, {"to", to_string(x)}};
        if (st.status != before) {
            event_type = "status_changed";
            detail["status"] = {{"from", to_string(before)}, {"to", to_string(st.status)}};
        } else {
            event_type = "updated";
        }
        if (same_version_changed) detail["same_version_changed"] = true;
    } else {
        auto id = store.next_case_id(day_of(now_ms));
        if (!id) return id.error();
        case_id = *id;
        st = recompute({x}, 0);
    }

    const std::uint64_t seq = store.head_seq() + 1;
    const Locator::Located where = locator_ ? locator_->locate(rec) : simple_location(rec);
    if (!where.notes.empty()) detail["location"] = where.notes;
    json doc = case_from_record(rec, where, *cat, case_id, created_at, now, seq, st);
    const json& loc = doc["location"];
    auto s = [](const json& v) { return v.is_string() ? v.get<std::string>() : std::string(); };
    CaseRow row{case_id, to_string(st.status), s(loc["street_code"]), s(loc["community_code"]),
                s(loc["grid_code"]), cat->code, cat->family, doc["priority"].get<std::string>(),
                0, now_ms, std::nullopt, doc.dump()};
    row.created_at = sdk::parse_rfc3339_ms(created_at).value_or(now_ms);

    EventRow ev;
    ev.case_id = case_id;
    ev.type = event_type;
    ev.street_code = row.street_code;
    ev.community_code = row.community_code;
    ev.grid_code = row.grid_code;
    ev.category_family = row.category_family;
    ev.status = row.status;
    ev.at = now_ms;
    ev.detail = detail.dump();
    ev.doc = row.doc;
    if (auto r = store.append_event(ev); !r) return r.error();
    if (auto r = store.put_case(row, ev.seq); !r) return r.error();
    SourceRow sr{case_id, version, form_name(form), sha, rec["status"], rec["status_native"]};
    if (auto r = store.put_source(system, record_id, sr, adapter, bytes, now_ms); !r) return r.error();
    events.push_back(std::move(ev));
    ++counters.applied;
    if (same_version_changed) {
        ++counters.same_version_changed;
        return Outcome::same_version_changed;
    }
    return Outcome::applied;
}

}  // namespace casehub::host
