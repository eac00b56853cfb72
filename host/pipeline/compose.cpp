#include "pipeline/compose.hpp"

#include <casehub/sdk/rfc3339.hpp>

#include <algorithm>
#include <set>

namespace casehub::host {

using nlohmann::json;

namespace {

const json kNull;

const json& field(const json& obj, const char* key) {
    if (!obj.is_object()) return kNull;
    auto it = obj.find(key);
    return it == obj.end() ? kNull : *it;
}
std::string str(const json& obj, const char* key) {
    const json& v = field(obj, key);
    return v.is_string() ? v.get<std::string>() : std::string();
}
std::int64_t time_of(const json& rec, const char* key) {
    return sdk::parse_rfc3339_ms(str(field(rec, "times"), key)).value_or(0);
}

int precedence(const std::string& system) {
    static const char* order[] = {"dcm", "enforcement", "gridapp", "police", "hotline12345"};
    for (int i = 0; i < 5; ++i)
        if (system == order[i]) return i;
    return 5;
}
int priority_rank(const std::string& p) { return p == "major" ? 2 : p == "larger" ? 1 : 0; }
int method_rank(const std::string& m) {
    return m == "coordinates" ? 3 : m == "gazetteer" ? 2 : m == "grid_code" ? 1 : 0;
}
int satisfaction_badness(const std::string& s) {
    return s == "dissatisfied" ? 3 : s == "unreachable" ? 2 : s == "basically_satisfied" ? 1 : 0;
}

// Earliest (or latest) non-null time over members, as the member wrote it.
json extreme_time(const std::vector<CaseMember>& ms, const char* key, bool latest, bool active_only = false) {
    json out;
    std::int64_t best = 0;
    for (const auto& m : ms) {
        if (active_only) {
            auto s = parse_status(str(*m.record, "status"));
            if (s && !is_active(*s)) continue;
        }
        const std::int64_t t = time_of(*m.record, key);
        if (t == 0) continue;
        if (out.is_null() || (latest ? t > best : t < best)) best = t, out = field(*m.record, "times")[key];
    }
    return out;
}

// An object built field by field into its map. nlohmann's initializer list builds each
// {"key", value} pair as an array of two first (a vector and a heap string per field), then
// moves it in: three allocations per field where one (the map node) will do. The document is
// the same: keys are sorted by the map either way.
class ObjectBuilder {
public:
    ObjectBuilder() : obj_(json::object()), map_(obj_.get_ref<json::object_t&>()) {}
    ObjectBuilder& add(const char* key, json value) {
        map_.insert_or_assign(key, std::move(value));
        return *this;
    }
    json take() { return std::move(obj_); }

private:
    json obj_;
    json::object_t& map_;
};

void add_unique(json& arr, const json& item) {
    for (const auto& x : arr)
        if (x == item) return;
    arr.push_back(item);
}

}  // namespace

std::size_t primary_member(const std::vector<CaseMember>& ms) {
    std::size_t best = 0;
    auto key = [&](const CaseMember& m) {
        const json& src = (*m.record)["source"];
        const bool unclassified = m.category->code == "other.unclassified";
        return std::make_tuple(unclassified, precedence(str(src, "system")), time_of(*m.record, "reported_at"),
                               str(src, "record_id"));
    };
    for (std::size_t i = 1; i < ms.size(); ++i)
        if (key(ms[i]) < key(ms[best])) best = i;
    return best;
}

json compose_case(const std::vector<CaseMember>& ms, const ComposeInput& st) {
    const json& previous = st.previous ? *st.previous : kNull;
    const CaseMember& pm = ms[primary_member(ms)];
    const json& p = *pm.record;

    // Location: coordinates > gazetteer > grid centroid, then the smallest precision.
    const CaseMember* lm = nullptr;
    for (const auto& m : ms) {
        const json& l = m.where->location;
        const int r = method_rank(str(l, "method"));
        if (r == 0) continue;
        if (!lm) {
            lm = &m;
            continue;
        }
        const json& b = lm->where->location;
        const int rb = method_rank(str(b, "method"));
        const int pa = l["precision_m"].is_number() ? l["precision_m"].get<int>() : 1 << 30;
        const int pb = b["precision_m"].is_number() ? b["precision_m"].get<int>() : 1 << 30;
        if (r > rb || (r == rb && pa < pb)) lm = &m;
    }
    const CaseMember& located = lm ? *lm : pm;
    json loc = located.where->location;
    if (!loc["address"].is_string())
        for (const auto& m : ms)
            if (m.where->location["address"].is_string()) {
                loc["address"] = m.where->location["address"];
                break;
            }
    // Without any location, the street an operator named (the first member that has one).
    if (!lm && !loc["street_code"].is_string())
        for (const auto& m : ms)
            if (m.where->location["street_code"].is_string()) {
                loc["street_code"] = m.where->location["street_code"];
                break;
            }
    const bool outside = located.where->outside_district;

    // Title: the primary's, else the earliest non-null, else "<category>：<address>".
    json title = field(p, "title");
    if (!title.is_string() || title.get<std::string>().empty()) {
        title = nullptr;
        std::int64_t best = 0;
        for (const auto& m : ms) {
            const json& t = field(*m.record, "title");
            if (!t.is_string() || t.get<std::string>().empty()) continue;
            const std::int64_t r = time_of(*m.record, "reported_at");
            if (title.is_null() || r < best) title = t, best = r;
        }
        if (title.is_null()) {
            const std::string address = loc["address"].is_string() ? loc["address"].get<std::string>() : "";
            title = address.empty() ? pm.category->name_zh : pm.category->name_zh + "：" + address;
        }
    }
    json appeal_type;
    std::int64_t appeal_at = 0;
    for (const auto& m : ms)
        if (str(*m.record, "kind") == "appeal") {
            const std::int64_t r = time_of(*m.record, "reported_at");
            if (appeal_at == 0 || r < appeal_at) appeal_at = r, appeal_type = field(*m.record, "appeal_type");
        }
    std::string priority = "general";
    for (const auto& m : ms) {
        const std::string pr = field(*m.record, "priority").is_string() ? str(*m.record, "priority")
                                                                        : m.category->default_priority;
        if (priority_rank(pr) > priority_rank(priority)) priority = pr;
    }

    const json& prev_times = field(previous, "times");
    json times = ObjectBuilder()
                     .add("reported_at", extreme_time(ms, "reported_at", false))
                     .add("registered_at", extreme_time(ms, "registered_at", false))
                     .add("dispatched_at", extreme_time(ms, "dispatched_at", false))
                     .add("due_at", extreme_time(ms, "due_at", false, true))
                     .add("resolved_at", nullptr)
                     .add("closed_at", nullptr)
                     .add("updated_at", extreme_time(ms, "updated_at", true))
                     .take();
    const json& prev_upd = field(prev_times, "updated_at");
    if (prev_upd.is_string() && sdk::parse_rfc3339_ms(prev_upd.get<std::string>()).value_or(0) >
                                    sdk::parse_rfc3339_ms(times["updated_at"].is_string() ? times["updated_at"].get<std::string>() : "").value_or(0))
        times["updated_at"] = prev_upd;
    // resolved_at / closed_at: when the case entered that status. Kept from before when the
    // case was already there; else the sources' own stamp; else the latest source update.
    const int r = rank(st.status.status);
    if (r >= rank(Status::resolved)) {
        json v = field(prev_times, "resolved_at");
        if (!v.is_string()) v = extreme_time(ms, "resolved_at", false);
        if (!v.is_string()) v = times["updated_at"];
        times["resolved_at"] = v;
    }
    if (st.status.status == Status::closed) {
        json v = field(prev_times, "closed_at");
        if (!v.is_string()) v = extreme_time(ms, "closed_at", true);
        if (!v.is_string()) v = times["updated_at"];
        times["closed_at"] = v;
    }

    // Unions.
    json responsible = json::array();
    auto add_unit = [&](json u) {
        const std::string code = str(u, "dept_code"), name = str(u, "name");
        for (auto& x : responsible)
            if ((!code.empty() && str(x, "dept_code") == code) || (code.empty() && !name.empty() && str(x, "name") == name)) {
                if (str(u, "role") == "lead") x["role"] = "lead";
                return;
            }
        responsible.push_back(std::move(u));
    };
    for (std::size_t k = 0; k <= ms.size(); ++k) {  // the primary first
        const CaseMember& m = k == 0 ? pm : ms[k - 1];
        if (k > 0 && &m == &pm) continue;
        const json& rs = field(*m.record, "responsible");
        if (!rs.is_array()) continue;
        for (const auto& u : rs) {
            json x = u;
            x["system"] = (*m.record)["source"]["system"];
            add_unit(std::move(x));
        }
    }
    for (const auto& u : field(previous, "responsible").is_array() ? field(previous, "responsible") : json::array())
        if (str(u, "system") == "hub") add_unit(u);
    json tags = json::array(), attachments = json::array(), links = json::array();
    for (const auto& m : ms) {
        for (const char* k : {"tags", "attachments", "links"}) {
            const json& a = field(*m.record, k);
            if (!a.is_array()) continue;
            json& out = std::string(k) == "tags" ? tags : std::string(k) == "attachments" ? attachments : links;
            for (const auto& x : a) add_unique(out, x);
        }
    }
    if (st.extra_links)
        for (const auto& l : *st.extra_links) add_unique(links, l);
    for (const auto& l : field(previous, "links").is_array() ? field(previous, "links") : json::array())
        if (str(l, "relation") == "related") add_unique(links, l);
    // A case does not link its own records.
    std::set<std::string> own;
    for (const auto& m : ms) own.insert(str((*m.record)["source"], "system") + ":" + str((*m.record)["source"], "record_id"));
    json kept = json::array();
    for (auto& l : links)
        if (!own.count(str(l, "system") + ":" + str(l, "record_id"))) kept.push_back(l);
    links = std::move(kept);

    json satisfaction;
    std::int64_t sat_at = 0;
    for (const auto& m : ms) {
        const json& s = field(*m.record, "satisfaction");
        if (!s.is_string()) continue;
        const std::int64_t t = time_of(*m.record, "updated_at");
        if (satisfaction.is_null() || t > sat_at ||
            (t == sat_at && satisfaction_badness(s.get<std::string>()) > satisfaction_badness(satisfaction.get<std::string>())))
            satisfaction = s, sat_at = t;
    }
    std::string confidentiality = "public";
    for (const auto& m : ms)
        if (str(*m.record, "confidentiality") == "internal") confidentiality = "internal";

    json sources = json::array();
    for (const auto& m : ms) {
        const json& rec = *m.record;
        const json& src = rec["source"];
        sources.push_back(ObjectBuilder()
                              .add("system", src["system"])
                              .add("record_id", src["record_id"])
                              .add("version", src["version"])
                              .add("raw_sha256", field(rec, "raw_sha256"))
                              .add("status", field(rec, "status"))
                              .add("status_native", field(rec, "status_native"))
                              .add("received_at", field(src, "received_at"))
                              .take());
    }
    auto arr = [&](const char* k) { return field(p, k).is_array() ? field(p, k) : json::array(); };
    // Routing rules come with the command centre; until then a placed case is the street's,
    // and one outside the district or unplaced goes to the district level.
    const char* escalation_level = field(loc, "street_code").is_string() && !outside ? "street" : "district";
    // The locals are moved into the document, not copied.
    return ObjectBuilder()
        .add("schema", "casehub.case/1")
        .add("case_id", st.case_id)
        .add("seq", st.seq)
        .add("created_at", st.created_at)
        .add("updated_at", st.updated_at)
        .add("kind", field(p, "kind"))
        .add("appeal_type", std::move(appeal_type))
        .add("channel", field(p, "channel"))
        .add("category", field(p, "category"))
        .add("title", std::move(title))
        .add("description", field(p, "description"))
        .add("status", to_string(st.status.status))
        .add("priority", priority)
        .add("times", std::move(times))
        .add("location", std::move(loc))
        .add("escalation_level", escalation_level)
        .add("reporter", field(p, "reporter"))
        .add("parties", arr("parties"))
        .add("responsible", std::move(responsible))
        .add("tags", std::move(tags))
        .add("satisfaction", std::move(satisfaction))
        .add("confidentiality", confidentiality)
        .add("attachments", std::move(attachments))
        .add("links", std::move(links))
        .add("sources", std::move(sources))
        .add("merged_from", st.merged_from ? *st.merged_from : json::array())
        .add("merged_into", nullptr)
        .add("closed_by", st.status.closed_by ? json(*st.status.closed_by) : json())
        .add("reopen_count", st.status.reopen_count)
        .take();
}

std::int64_t ended_at(const json& doc, const std::vector<CaseMember>& ms) {
    const std::string status = str(doc, "status");
    if (status == "closed") return sdk::parse_rfc3339_ms(str(field(doc, "times"), "closed_at")).value_or(1);
    if (status != "rejected" && status != "cancelled") return 0;
    std::int64_t latest = 0;
    for (const auto& m : ms) latest = std::max(latest, time_of(*m.record, "updated_at"));
    return latest > 0 ? latest : 1;
}

}  // namespace casehub::host
