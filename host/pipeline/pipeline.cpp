#include "pipeline/pipeline.hpp"

#include "common/fast_json.hpp"
#include "common/json_dump.hpp"
#include "pipeline/compose.hpp"
#include "pipeline/status_rules.hpp"

#include <casehub/sdk/record_check.hpp>
#include <casehub/sdk/rfc3339.hpp>

#include <cassert>
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

// {"from": a, "to": b}.
JsonObjectText from_to(std::string_view a, std::string_view b) {
    JsonObjectText o;
    o.string("from", a).string("to", b);
    return o;
}

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
                   std::shared_ptr<const Locator> locator, correlate::Settings correlation)
    : categories_(std::move(categories)), locator_(std::move(locator)), correlator_(std::move(correlation)) {
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


struct Pipeline::Loaded {
    std::vector<json> records;
    std::vector<Locator::Located> where;
    std::vector<const Category*> cats;
    std::vector<std::string> keys;  // system:record_id
    std::vector<MemberText> texts;  // ready for the record just prepared, not for those read back

    std::vector<Status> statuses() const {
        std::vector<Status> out;
        for (const auto& r : records) out.push_back(parse_status(r["status"].get<std::string>()).value_or(Status::new_));
        return out;
    }
    std::vector<CaseMember> members() const {
        std::vector<CaseMember> out;
        for (std::size_t i = 0; i < records.size(); ++i) out.push_back({&records[i], &where[i], cats[i], &texts[i]});
        return out;
    }
    void add(json rec, Locator::Located w, const Category* c, MemberText text = {}) {
        const json& src = rec["source"];
        keys.push_back(src["system"].get<std::string>() + ":" + src["record_id"].get<std::string>());
        records.push_back(std::move(rec));
        where.push_back(std::move(w));
        cats.push_back(c);
        texts.push_back(std::move(text));
    }
    void remove(std::size_t i) {
        records.erase(records.begin() + static_cast<std::ptrdiff_t>(i));
        where.erase(where.begin() + static_cast<std::ptrdiff_t>(i));
        cats.erase(cats.begin() + static_cast<std::ptrdiff_t>(i));
        keys.erase(keys.begin() + static_cast<std::ptrdiff_t>(i));
        texts.erase(texts.begin() + static_cast<std::ptrdiff_t>(i));
    }
    std::ptrdiff_t find(const std::string& key) const {
        for (std::size_t i = 0; i < keys.size(); ++i)
            if (keys[i] == key) return static_cast<std::ptrdiff_t>(i);
        return -1;
    }
};

Result<void> Pipeline::load_members(Store& store, std::string_view case_id, Loaded& out, std::string_view skip) const {
    auto srcs = store.sources_of_case(case_id);
    if (!srcs) return srcs.error();
    for (const auto& s : *srcs) {
        // The version a new one replaces: parsed and located only to be dropped, it was 4 % of
        // apply's instructions.
        if (skip.size() == s.system.size() + 1 + s.record_id.size() && skip.starts_with(s.system) &&
            skip[s.system.size()] == ':' && skip.ends_with(s.record_id))
            continue;
        json rec = parse_json(s.doc);
        if (!rec.is_object()) return make_error("case " + std::string(case_id) + ": record " + s.system + ":" + s.record_id + " is unreadable in the store");
        const Category* cat = categories_.find(rec["category"].value("code", ""));
        if (!cat) cat = categories_.find("other.unclassified");
        if (!cat) return make_error("categories: other.unclassified is missing");
        Locator::Located w = locator_ ? locator_->locate(rec) : simple_location(rec);
        out.add(std::move(rec), std::move(w), cat);
    }
    return {};
}

namespace {

// The state kept on the case document that records do not carry.
struct Kept {
    std::string created_at;
    std::int64_t created_ms = 0;
    CaseStatus st;
    json merged_from = json::array(), previous;
};

// `whole`: all of the previous document (merge() rewrites the absorbed case's). Otherwise only
// the members read here and by compose_case(): a third of the document, the costlier part of
// opening a case being the conversion to nlohmann's tree.
Result<std::optional<std::pair<CaseRow, Kept>>> load_case(Store& store, std::string_view case_id, std::int64_t now_ms,
                                                          bool whole = false) {
    auto row = store.find_case(case_id);
    if (!row) return row.error();
    if (!*row) return std::optional<std::pair<CaseRow, Kept>>();
    Kept k;
    k.created_ms = (*row)->created_at;
    k.previous = whole ? parse_json((*row)->doc)
                       : parse_json_members((*row)->doc, {"closed_by", "created_at", "links", "merged_from",
                                                          "reopen_count", "responsible", "status", "times"});
    const json& old = k.previous;
    k.created_at = sdk::format_rfc3339_beijing(now_ms, true);
    if (old.is_object()) {
        k.created_at = old.value("created_at", k.created_at);
        k.st.status = parse_status(old.value("status", "new")).value_or(Status::new_);
        if (old["closed_by"].is_string()) k.st.closed_by = old["closed_by"].get<std::string>();
        k.st.reopen_count = old.value("reopen_count", 0);
        if (old["merged_from"].is_array()) k.merged_from = old["merged_from"];
    }
    return std::optional<std::pair<CaseRow, Kept>>(std::make_pair(std::move(**row), std::move(k)));
}

}  // namespace

Result<EventRow> Pipeline::write_case(Store& store, const std::string& case_id, const std::string& created_at,
                                      std::int64_t created_ms, const CaseStatus& st, const json& merged_from,
                                      const json& previous, const json& extra_links, Loaded& L, std::string type,
                                      std::string detail, std::int64_t now_ms) {
    ComposeInput cs;
    cs.case_id = case_id;
    cs.created_at = created_at;
    cs.updated_at = sdk::format_rfc3339_beijing(now_ms, true);
    cs.seq = store.head_seq() + 1;
    cs.status = st;
    cs.merged_from = &merged_from;
    cs.previous = &previous;
    cs.extra_links = &extra_links;
    const auto members = L.members();
    ComposedCase doc = compose_case(members, cs);
    const Category& cat = *members[primary_member(members)].category;
    // The document goes into the event only: the case's row points at it (Store::put_case).
    CaseRow row{case_id, to_string(st.status), std::move(doc.street_code), std::move(doc.community_code),
                std::move(doc.grid_code), cat.code, cat.family, std::move(doc.priority),
                created_ms, now_ms, std::nullopt, std::string()};
    row.ended_at = doc.ended_at;
    EventRow ev = event_of(row, std::move(type), now_ms, std::move(detail));
    ev.doc = std::move(doc.doc);
    ev.detail_canonical = true;  // the callers write it as dump() does
    if (auto r = store.append_event(ev); !r) return r.error();
    if (auto r = store.put_case(row, ev.seq); !r) return r.error();
    return ev;
}

Pipeline::Prepared Pipeline::prepare(std::string_view bytes) const {
    Prepared p;
    sdk::RecordCheckOptions opts{&systems_, &categories_.codes(), &parse_json_fast};
    p.fault = sdk::parse_and_check_record(bytes, p.rec, opts);
    if (p.fault) return p;
    p.cat = categories_.find(p.rec["category"]["code"].get<std::string>());
    p.where = locator_ ? locator_->locate(p.rec) : simple_location(p.rec);
    p.profile = correlate::make_profile(p.rec, p.where.location, *p.cat, correlator_.settings());
    try {
        p.text = member_text(p.rec, p.where);
    } catch (const json::exception&) {
        // Not on a checked record (its text is valid UTF-8). Were it to happen, compose_case
        // serialises the values itself, on the applying thread, as it did before.
        p.text = {};
    }
    return p;
}

Result<Outcome> Pipeline::apply(Store& store, std::string_view adapter, std::string_view bytes, Prepared prepared,
                                std::string_view cursor, std::int64_t now_ms, std::vector<EventRow>& events,
                                Counters& counters, std::string* fault_out, std::vector<Prepared>* spent) {
    ++counters.records_in;
    json& rec = prepared.rec;
    if (const auto& fault = prepared.fault) {
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
    const Category* cat = prepared.cat;
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

    const std::string self = system + ":" + record_id;
    Locator::Located& where = prepared.where;
    JsonObjectText detail;
    detail.string("record", self).string("version", version);
    if (!where.notes.empty()) detail.value("location", where.notes);

    std::string case_id, type;
    Kept k;
    k.created_at = sdk::format_rfc3339_beijing(now_ms, true);
    k.created_ms = now_ms;
    Loaded L;
    json extra_links = json::array();
    auto open_case = [&](const std::string& id, std::string_view skip) -> Result<bool> {
        auto c = load_case(store, id, now_ms);
        if (!c) return c.error();
        if (!*c) return false;
        k = std::move((*c)->second);
        if (auto r = load_members(store, id, L, skip); !r) return r.error();
        return true;
    };
    if (*prior) {
        case_id = (*prior)->case_id;
        auto opened = open_case(case_id, self);  // without this record's previous version
        if (!opened) return opened.error();
        L.add(std::move(rec), std::move(where), cat, std::move(prepared.text));  // rec is L.records.back() from here
        const Status before = k.st.status;
        const auto p = parse_status((*prior)->status).value_or(Status::new_);
        k.st = apply_source_change(k.st, p, x, L.statuses());
        detail.string("move", to_string(classify(p, x))).object("source_status", from_to(to_string(p), to_string(x)));
        if (k.st.status != before) {
            type = "status_changed";
            detail.object("status", from_to(to_string(before), to_string(k.st.status)));
        } else {
            type = "updated";
        }
        if (same_version_changed) detail.boolean("same_version_changed", true);
    } else {
        const correlate::Profile& profile = prepared.profile;
        auto decision = correlator_.decide(store, rec, profile);
        if (!decision) return decision.error();
        decision->detail.string("summary", decision->summary);
        detail.object("correlation", decision->detail);
        bool joined = false;
        if (decision->join) {
            auto opened = open_case(*decision->join, {});
            if (!opened) return opened.error();
            joined = *opened;
        }
        if (joined) {
            case_id = *decision->join;
            L.add(std::move(rec), std::move(where), cat, std::move(prepared.text));  // rec is L.records.back() from here
            const Status before = k.st.status;
            k.st = apply_source_change(k.st, std::nullopt, x, L.statuses());
            type = "joined";
            if (k.st.status != before) detail.object("status", from_to(to_string(before), to_string(k.st.status)));
        } else {
            auto id = store.next_case_id(day_of(now_ms));
            if (!id) return id.error();
            case_id = *id;
            L.add(std::move(rec), std::move(where), cat, std::move(prepared.text));  // rec is L.records.back() from here
            k.st = recompute({x}, 0);
            type = "created";
            if (decision->related)
                extra_links.push_back({{"system", decision->related->first}, {"record_id", decision->related->second},
                                       {"relation", "related"}});
        }
        const json& added = L.records.back();
        if (added.contains("links") && added["links"].is_array())
            for (const auto& l : added["links"]) {
                const std::string rel = l.value("relation", "");
                if (rel != "duplicate_of" && rel != "transferred_from") continue;
                if (auto r = store.add_record_link(l.value("system", "") + ":" + l.value("record_id", ""), self, rel); !r)
                    return r.error();
            }
    }

    auto ev = write_case(store, case_id, k.created_at, k.created_ms, k.st, k.merged_from, k.previous, extra_links, L,
                         type, detail.str(), now_ms);
    if (!ev) return ev.error();
    json& added = L.records.back();
    SourceRow sr{case_id, version, form_name(form), sha, added["status"], added["status_native"]};
    auto row_id = store.put_source(system, record_id, sr, adapter, bytes, now_ms);
    if (!row_id) return row_id.error();
    // A new record's correlation profile, under its row's id (store.hpp).
    assert(*prior || *row_id > 0);  // no row before: this one was inserted
    if (!*prior)
        if (auto r = store.put_corr_record(*row_id, correlate::index_row(prepared.profile, case_id, correlator_.settings()));
            !r)
            return r.error();
    events.push_back(std::move(*ev));
    if (spent) {
        Prepared& s = spent->emplace_back();
        s.rec = std::move(L.records.back());
        s.where = std::move(L.where.back());
        s.profile = std::move(prepared.profile);
        s.text = std::move(L.texts.back());
    }
    ++counters.applied;
    if (same_version_changed) {
        ++counters.same_version_changed;
        return Outcome::same_version_changed;
    }
    return Outcome::applied;
}

Result<Pipeline::Override> Pipeline::merge(Store& store, std::string_view into, std::string_view absorbed,
                                           std::string_view by, std::string_view note, std::int64_t now_ms,
                                           std::vector<EventRow>& events) {
    auto refuse = [](std::string code, std::string message, std::string field) {
        return Override{OverrideError{std::move(code), std::move(message), std::move(field)}, {}};
    };
    if (into == absorbed) return refuse("invalid_argument", "cannot merge case " + std::string(into) + " into itself", "other");
    auto a = load_case(store, into, now_ms);
    if (!a) return a.error();
    if (!*a) return refuse("not_found", "no case " + std::string(into), "case_id");
    auto b = load_case(store, absorbed, now_ms, true);
    if (!b) return b.error();
    if (!*b) return refuse("not_found", "no case " + std::string(absorbed), "other");
    if ((*a)->first.merged_into)
        return refuse("conflict", "case " + std::string(into) + " was merged into " + *(*a)->first.merged_into, "case_id");
    if ((*b)->first.merged_into)
        return refuse("conflict", "case " + std::string(absorbed) + " was merged into " + *(*b)->first.merged_into, "other");

    Loaded L, LB;
    if (auto r = load_members(store, into, L); !r) return r.error();
    if (auto r = load_members(store, absorbed, LB); !r) return r.error();
    json moved = json::array();
    for (std::size_t i = 0; i < LB.records.size(); ++i) {
        const json& s = LB.records[i]["source"];
        if (auto r = store.move_record(s["system"].get<std::string>(), s["record_id"].get<std::string>(), into); !r)
            return r.error();
        moved.push_back(LB.keys[i]);
        L.add(std::move(LB.records[i]), std::move(LB.where[i]), LB.cats[i]);
    }
    Kept& ka = (*a)->second;
    Kept& kb = (*b)->second;
    const Status before = ka.st.status;
    CaseStatus st = recompute(L.statuses(), ka.st.reopen_count + kb.st.reopen_count);
    if (ka.st.closed_by == std::optional<std::string>("street") && st.status == Status::closed) st.closed_by = "street";
    json merged_from = ka.merged_from;
    merged_from.push_back(std::string(absorbed));
    for (const auto& m : kb.merged_from) merged_from.push_back(m);
    // What the hub added to the absorbed case (units it dispatched, related links) carries over.
    json previous = ka.previous;
    json extra = json::array();
    if (kb.previous.is_object()) {
        if (kb.previous["responsible"].is_array() && previous.is_object() && previous["responsible"].is_array())
            for (const auto& u : kb.previous["responsible"])
                if (u.value("system", "") == "hub") previous["responsible"].push_back(u);
        if (kb.previous["links"].is_array())
            for (const auto& l : kb.previous["links"])
                if (l.value("relation", "") == "related") extra.push_back(l);
    }
    const std::string summary = "merged " + std::string(absorbed) + " into " + std::string(into) + " by " +
                                std::string(by) + (note.empty() ? "" : ": " + std::string(note));
    json detail = {{"override", "merge"}, {"merged_from", absorbed}, {"records", moved}, {"by", by}, {"note", note},
                   {"summary", summary}};
    if (st.status != before) detail["status"] = {{"from", to_string(before)}, {"to", to_string(st.status)}};
    auto ev = write_case(store, std::string(into), ka.created_at, ka.created_ms, st, merged_from, previous, extra, L,
                         "merged", dump_json(detail), now_ms);
    if (!ev) return ev.error();
    events.push_back(std::move(*ev));

    // The absorbed case keeps its last state, pointing at the survivor.
    CaseRow row = (*b)->first;
    json doc = kb.previous.is_object() ? kb.previous : json::object();
    doc["merged_into"] = std::string(into);
    doc["updated_at"] = sdk::format_rfc3339_beijing(now_ms, true);
    doc["seq"] = store.head_seq() + 1;
    row.merged_into = std::string(into);
    row.updated_at = now_ms;
    row.doc = doc.dump();
    EventRow eb = event_of(row, "merged_into", now_ms,
                           json{{"override", "merge"}, {"merged_into", into}, {"records", moved}, {"by", by},
                                {"note", note}, {"summary", summary}}.dump());
    if (auto r = store.append_event(eb); !r) return r.error();
    if (auto r = store.put_case(row, eb.seq); !r) return r.error();
    events.push_back(std::move(eb));
    return Override{std::nullopt, std::string(into)};
}

Result<Pipeline::Override> Pipeline::split(Store& store, std::string_view case_id, std::string_view system,
                                           std::string_view record_id, std::string_view by, std::string_view note,
                                           std::int64_t now_ms, std::vector<EventRow>& events) {
    auto refuse = [](std::string code, std::string message, std::string field) {
        return Override{OverrideError{std::move(code), std::move(message), std::move(field)}, {}};
    };
    auto c = load_case(store, case_id, now_ms);
    if (!c) return c.error();
    if (!*c) return refuse("not_found", "no case " + std::string(case_id), "case_id");
    if ((*c)->first.merged_into)
        return refuse("conflict", "case " + std::string(case_id) + " was merged into " + *(*c)->first.merged_into, "case_id");
    Loaded L;
    if (auto r = load_members(store, case_id, L); !r) return r.error();
    const std::string self = std::string(system) + ":" + std::string(record_id);
    const auto at = L.find(self);
    if (at < 0) return refuse("not_found", "case " + std::string(case_id) + " has no record " + self, "record");
    if (L.records.size() < 2)
        return refuse("conflict", self + " is the only record of case " + std::string(case_id) + ": nothing to split from", "record");

    auto id = store.next_case_id(day_of(now_ms));
    if (!id) return id.error();
    Loaded out;
    out.add(std::move(L.records[static_cast<std::size_t>(at)]), std::move(L.where[static_cast<std::size_t>(at)]),
            L.cats[static_cast<std::size_t>(at)]);
    L.remove(static_cast<std::size_t>(at));
    if (auto r = store.move_record(system, record_id, *id); !r) return r.error();
    json apart = json::array();
    for (const auto& other : L.keys) {
        if (auto r = store.add_split_pair(self, other); !r) return r.error();
        apart.push_back(other);
    }
    Kept& k = (*c)->second;
    const Status before = k.st.status;
    CaseStatus st = recompute(L.statuses(), k.st.reopen_count);
    const std::string summary = "split " + self + " out of " + std::string(case_id) + " into " + *id + " by " +
                                std::string(by) + (note.empty() ? "" : ": " + std::string(note));
    json detail = {{"override", "split"}, {"record", self}, {"into", *id}, {"kept_apart_from", apart}, {"by", by},
                   {"note", note}, {"summary", summary}};
    if (st.status != before) detail["status"] = {{"from", to_string(before)}, {"to", to_string(st.status)}};
    auto ev = write_case(store, std::string(case_id), k.created_at, k.created_ms, st, k.merged_from, k.previous,
                         json::array(), L, "split", dump_json(detail), now_ms);
    if (!ev) return ev.error();
    events.push_back(std::move(*ev));

    const Status x = parse_status(out.records[0]["status"].get<std::string>()).value_or(Status::new_);
    json nd = {{"override", "split"}, {"record", self}, {"split_from", case_id}, {"kept_apart_from", apart},
               {"by", by}, {"note", note}, {"summary", summary}};
    auto ev2 = write_case(store, *id, sdk::format_rfc3339_beijing(now_ms, true), now_ms, recompute({x}, 0),
                          json::array(), json(), json::array(), out, "created", dump_json(nd), now_ms);
    if (!ev2) return ev2.error();
    events.push_back(std::move(*ev2));
    return Override{std::nullopt, *id};
}

}  // namespace casehub::host
