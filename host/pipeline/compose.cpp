#include "pipeline/compose.hpp"

#include "common/json_dump.hpp"

#include <casehub/sdk/rfc3339.hpp>

#include <algorithm>
#include <charconv>
#include <set>

namespace casehub::host {

using nlohmann::json;

namespace {

const json kNull;

// Keys as string views: the map's transparent lookup then compares without a strlen per node
// (a const char* key cost a tenth of the composing).
const json& field(const json& obj, std::string_view key) {
    if (!obj.is_object()) return kNull;
    auto it = obj.find(key);
    return it == obj.end() ? kNull : *it;
}
// A view into `obj`: valid while it is.
std::string_view str(const json& obj, std::string_view key) {
    const json& v = field(obj, key);
    return v.is_string() ? std::string_view(v.get_ref<const std::string&>()) : std::string_view();
}
std::int64_t time_of(const json& rec, std::string_view key) {
    return sdk::parse_rfc3339_ms(str(field(rec, "times"), key)).value_or(0);
}

// "system:record_id" of a source or a link.
std::string record_key(const json& o) {
    std::string k(str(o, "system"));
    k += ':';
    k += str(o, "record_id");
    return k;
}

int precedence(std::string_view system) {
    static const char* order[] = {"dcm", "enforcement", "gridapp", "police", "hotline12345"};
    for (int i = 0; i < 5; ++i)
        if (system == order[i]) return i;
    return 5;
}
int priority_rank(std::string_view p) { return p == "major" ? 2 : p == "larger" ? 1 : 0; }
int method_rank(std::string_view m) {
    return m == "coordinates" ? 3 : m == "gazetteer" ? 2 : m == "grid_code" ? 1 : 0;
}
int satisfaction_badness(std::string_view s) {
    return s == "dissatisfied" ? 3 : s == "unreachable" ? 2 : s == "basically_satisfied" ? 1 : 0;
}

// The times of each member, looked up and parsed once: the composing asks for most of them
// several times (the earliest report, the latest update...).
enum TimeKey { kReportedAt, kRegisteredAt, kDispatchedAt, kDueAt, kResolvedAt, kClosedAt, kUpdatedAt, kTimeKeys };
constexpr std::string_view kTimeNames[kTimeKeys] = {"reported_at", "registered_at", "dispatched_at", "due_at",
                                                    "resolved_at", "closed_at",     "updated_at"};
struct MemberTimes {
    const json* text[kTimeKeys];  // as the member wrote it (kNull when absent)
    std::int64_t ms[kTimeKeys];   // 0 when absent or not an instant
    bool active;                  // its status is not rejected or cancelled
};

std::vector<MemberTimes> times_of(const std::vector<CaseMember>& ms) {
    std::vector<MemberTimes> out(ms.size());
    for (std::size_t i = 0; i < ms.size(); ++i) {
        const json& times = field(*ms[i].record, "times");
        for (int k = 0; k < kTimeKeys; ++k) {
            const json& v = field(times, kTimeNames[k]);
            out[i].text[k] = &v;
            out[i].ms[k] = v.is_string() ? sdk::parse_rfc3339_ms(v.get_ref<const std::string&>()).value_or(0) : 0;
        }
        const auto s = parse_status(str(*ms[i].record, "status"));
        out[i].active = !s || is_active(*s);
    }
    return out;
}

// Earliest (or latest) non-null time over members, as the member wrote it (null when none).
const json& extreme_time(const std::vector<MemberTimes>& mt, TimeKey key, bool latest, bool active_only = false) {
    const json* out = &kNull;
    std::int64_t best = 0;
    for (const auto& m : mt) {
        if (active_only && !m.active) continue;
        const std::int64_t t = m.ms[key];
        if (t == 0) continue;
        if (out->is_null() || (latest ? t > best : t < best)) best = t, out = m.text[key];
    }
    return *out;
}

// Adds `item` unless an equal value is there already. The values are borrowed from the
// members and the inputs, which outlive the composing.
void add_unique(std::vector<const json*>& arr, const json& item) {
    for (const json* x : arr)
        if (*x == item) return;
    arr.push_back(&item);
}

// The document is written as text straight from the members' values, in nlohmann's own
// form: the keys of each object in std::map's byte order (the order below; the pipeline's
// tests check the text re-dumps to itself), values through json_dump.hpp. Building it as a
// DOM first copied every borrowed value (description, reporter, parties, location...) into a
// tree only to serialise and free it: a sixth of the intake thread's time.
class ObjectText {
public:
    explicit ObjectText(json_dump_detail::Writer& w) : w_(w) { w_.put('{'); }
    ~ObjectText() { w_.put('}'); }
    ObjectText(const ObjectText&) = delete;
    ObjectText& operator=(const ObjectText&) = delete;
    // `k` is a plain ASCII literal: no escaping needed.
    json_dump_detail::Writer& key(std::string_view k) {
        if (!first_) w_.put(',');
        first_ = false;
        w_.put('"');
        w_.put(k);
        w_.put("\":", 2);
        return w_;
    }
    void value(std::string_view k, const json& v) { put_json(key(k), v, json::error_handler_t::strict); }
    void string(std::string_view k, const std::string& v) { put_string(key(k), v, json::error_handler_t::strict); }
    void literal(std::string_view k, std::string_view text) { key(k).put(text); }
    template <class Int>
    void integer(std::string_view k, Int v) {
        auto& w = key(k);
        char* at = w.room(24);
        w.truncate(w.size() + static_cast<std::size_t>(std::to_chars(at, at + 24, v).ptr - at));
    }
    void array(std::string_view k, const std::vector<const json*>& items) {
        auto& w = key(k);
        w.put('[');
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (i) w.put(',');
            put_json(w, *items[i], json::error_handler_t::strict);
        }
        w.put(']');
    }

private:
    json_dump_detail::Writer& w_;
    bool first_ = true;
};

// A string value as a view (empty when not a string): parsed, never kept.
std::string_view text_of(const json& v) {
    return v.is_string() ? std::string_view(v.get_ref<const std::string&>()) : std::string_view();
}

// The member's entry in `sources`.
void put_source(json_dump_detail::Writer& w, const json& rec) {
    const json& src = field(rec, "source");
    ObjectText so(w);
    so.value("raw_sha256", field(rec, "raw_sha256"));
    so.value("received_at", field(src, "received_at"));
    so.value("record_id", field(src, "record_id"));
    so.value("status", field(rec, "status"));
    so.value("status_native", field(rec, "status_native"));
    so.value("system", field(src, "system"));
    so.value("version", field(src, "version"));
}

const MemberText* ready(const CaseMember& m) { return m.text && m.text->ready ? m.text : nullptr; }

}  // namespace

MemberText member_text(const json& rec, const Locator::Located& where) {
    MemberText t;
    t.text.reserve(2048);
    {
        json_dump_detail::Writer w(t.text);  // sizes t.text when it goes
        auto ends = [&](MemberText::Part p) { t.end[p] = static_cast<std::uint32_t>(w.size()); };
        put_json(w, field(rec, "category"), json::error_handler_t::strict);
        ends(MemberText::category);
        put_json(w, field(rec, "description"), json::error_handler_t::strict);
        ends(MemberText::description);
        put_json(w, field(rec, "reporter"), json::error_handler_t::strict);
        ends(MemberText::reporter);
        if (const json& parties = field(rec, "parties"); parties.is_array())
            put_json(w, parties, json::error_handler_t::strict);
        ends(MemberText::parties);
        put_json(w, where.location, json::error_handler_t::strict);
        ends(MemberText::location);
        put_source(w, rec);
        ends(MemberText::source);
    }
    t.ready = true;
    return t;
}

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

ComposedCase compose_case(const std::vector<CaseMember>& ms, const ComposeInput& st) {
    const json& previous = st.previous ? *st.previous : kNull;
    const CaseMember& pm = ms[primary_member(ms)];
    const json& p = *pm.record;
    const std::vector<MemberTimes> mt = times_of(ms);

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
        const int pa = field(l, "precision_m").is_number() ? field(l, "precision_m").get<int>() : 1 << 30;
        const int pb = field(b, "precision_m").is_number() ? field(b, "precision_m").get<int>() : 1 << 30;
        if (r > rb || (r == rb && pa < pb)) lm = &m;
    }
    const CaseMember& located = lm ? *lm : pm;
    // Borrowed from the member; copied only when another member fills a gap in it.
    const json* loc = &located.where->location;
    json loc_copy;
    auto edit_loc = [&]() -> json& {
        if (loc != &loc_copy) loc_copy = *loc, loc = &loc_copy;
        return loc_copy;
    };
    auto fill_from_members = [&](const char* key) {  // the key ends up present, null if no member has it
        if (field(*loc, key).is_string()) return;
        for (const auto& m : ms)
            if (field(m.where->location, key).is_string()) {
                edit_loc()[key] = field(m.where->location, key);
                return;
            }
        if (!loc->is_object() || !loc->contains(key)) edit_loc()[key] = nullptr;
    };
    fill_from_members("address");
    // Without any location, the street an operator named (the first member that has one).
    if (!lm) fill_from_members("street_code");
    const bool outside = located.where->outside_district;

    // Title: the primary's, else the earliest non-null, else "<category>：<address>".
    const json* title = &field(p, "title");
    json title_made;
    if (!title->is_string() || title->get_ref<const std::string&>().empty()) {
        title = &kNull;
        std::int64_t best = 0;
        for (std::size_t i = 0; i < ms.size(); ++i) {
            const json& t = field(*ms[i].record, "title");
            if (!t.is_string() || t.get_ref<const std::string&>().empty()) continue;
            const std::int64_t r = mt[i].ms[kReportedAt];
            if (title->is_null() || r < best) title = &t, best = r;
        }
        if (title->is_null()) {
            const std::string address(str(*loc, "address"));
            title_made = address.empty() ? pm.category->name_zh : pm.category->name_zh + "：" + address;
            title = &title_made;
        }
    }
    const json* appeal_type = &kNull;
    std::int64_t appeal_at = 0;
    for (std::size_t i = 0; i < ms.size(); ++i)
        if (str(*ms[i].record, "kind") == "appeal") {
            const std::int64_t r = mt[i].ms[kReportedAt];
            if (appeal_at == 0 || r < appeal_at) appeal_at = r, appeal_type = &field(*ms[i].record, "appeal_type");
        }
    std::string priority = "general";
    for (const auto& m : ms) {
        const std::string_view pr = field(*m.record, "priority").is_string()
                                        ? str(*m.record, "priority")
                                        : std::string_view(m.category->default_priority);
        if (priority_rank(pr) > priority_rank(priority)) priority = pr;
    }

    const json& prev_times = field(previous, "times");
    const json* updated_at = &extreme_time(mt, kUpdatedAt, true);
    const json& prev_upd = field(prev_times, "updated_at");
    if (prev_upd.is_string() && sdk::parse_rfc3339_ms(prev_upd.get_ref<const std::string&>()).value_or(0) >
                                    sdk::parse_rfc3339_ms(text_of(*updated_at)).value_or(0))
        updated_at = &prev_upd;
    // resolved_at / closed_at: when the case entered that status. Kept from before when the
    // case was already there; else the sources' own stamp; else the latest source update.
    const json* resolved_at = &kNull;
    const json* closed_at = &kNull;
    if (rank(st.status.status) >= rank(Status::resolved)) {
        resolved_at = &field(prev_times, "resolved_at");
        if (!resolved_at->is_string()) resolved_at = &extreme_time(mt, kResolvedAt, false);
        if (!resolved_at->is_string()) resolved_at = updated_at;
    }
    if (st.status.status == Status::closed) {
        closed_at = &field(prev_times, "closed_at");
        if (!closed_at->is_string()) closed_at = &extreme_time(mt, kClosedAt, true);
        if (!closed_at->is_string()) closed_at = updated_at;
    }

    // Unions. Responsible units gain the system that named them, so they are copied.
    json responsible = json::array();
    auto add_unit = [&](json u) {
        const std::string_view code = str(u, "dept_code"), name = str(u, "name");
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
            x["system"] = field(field(*m.record, "source"), "system");
            add_unit(std::move(x));
        }
    }
    if (const json& prev = field(previous, "responsible"); prev.is_array())
        for (const auto& u : prev)
            if (str(u, "system") == "hub") add_unit(u);
    std::vector<const json*> tags, attachments, links;
    for (const auto& m : ms) {
        const auto add_all = [&](const char* key, std::vector<const json*>& out) {
            const json& a = field(*m.record, key);
            if (a.is_array())
                for (const auto& x : a) add_unique(out, x);
        };
        add_all("tags", tags);
        add_all("attachments", attachments);
        add_all("links", links);
    }
    if (st.extra_links)
        for (const auto& l : *st.extra_links) add_unique(links, l);
    if (const json& prev = field(previous, "links"); prev.is_array())
        for (const auto& l : prev)
            if (str(l, "relation") == "related") add_unique(links, l);
    // A case does not link its own records.
    std::set<std::string> own;
    for (const auto& m : ms) {
        const json& src = field(*m.record, "source");
        own.insert(record_key(src));
    }
    std::erase_if(links, [&](const json* l) { return own.count(record_key(*l)) > 0; });

    const json* satisfaction = &kNull;
    std::int64_t sat_at = 0;
    for (std::size_t i = 0; i < ms.size(); ++i) {
        const json& s = field(*ms[i].record, "satisfaction");
        if (!s.is_string()) continue;
        const std::int64_t t = mt[i].ms[kUpdatedAt];
        if (satisfaction->is_null() || t > sat_at ||
            (t == sat_at && satisfaction_badness(s.get_ref<const std::string&>()) >
                                satisfaction_badness(satisfaction->get_ref<const std::string&>())))
            satisfaction = &s, sat_at = t;
    }
    const bool internal = std::any_of(ms.begin(), ms.end(), [](const CaseMember& m) {
        return str(*m.record, "confidentiality") == "internal";
    });
    const json& parties = field(p, "parties");
    // Routing rules come with the command centre; until then a placed case is the street's,
    // and one outside the district or unplaced goes to the district level.
    const bool street_level = field(*loc, "street_code").is_string() && !outside;

    ComposedCase out;
    out.doc.reserve(4096);
    {
        json_dump_detail::Writer w(out.doc);
        ObjectText o(w);  // keys in byte order, as nlohmann's map keeps them
        o.value("appeal_type", *appeal_type);
        o.array("attachments", attachments);
        o.string("case_id", st.case_id);
        const MemberText* pt = ready(pm);
        if (pt) o.literal("category", pt->part(MemberText::category));
        else o.value("category", field(p, "category"));
        o.value("channel", field(p, "channel"));
        if (st.status.closed_by) o.string("closed_by", *st.status.closed_by);
        else o.literal("closed_by", "null");
        o.literal("confidentiality", internal ? "\"internal\"" : "\"public\"");
        o.string("created_at", st.created_at);
        if (pt) o.literal("description", pt->part(MemberText::description));
        else o.value("description", field(p, "description"));
        o.literal("escalation_level", street_level ? "\"street\"" : "\"district\"");
        o.value("kind", field(p, "kind"));
        o.array("links", links);
        const MemberText* lt = ready(located);
        if (lt && loc == &located.where->location) o.literal("location", lt->part(MemberText::location));
        else o.value("location", *loc);  // completed from another member, or read back
        if (st.merged_from) o.value("merged_from", *st.merged_from);
        else o.literal("merged_from", "[]");
        o.literal("merged_into", "null");
        if (!parties.is_array()) o.literal("parties", "[]");
        else if (pt) o.literal("parties", pt->part(MemberText::parties));
        else o.value("parties", parties);
        o.string("priority", priority);
        o.integer("reopen_count", st.status.reopen_count);
        if (pt) o.literal("reporter", pt->part(MemberText::reporter));
        else o.value("reporter", field(p, "reporter"));
        o.value("responsible", responsible);
        o.value("satisfaction", *satisfaction);
        o.literal("schema", "\"casehub.case/1\"");
        o.integer("seq", st.seq);
        {
            auto& sw = o.key("sources");
            sw.put('[');
            for (std::size_t i = 0; i < ms.size(); ++i) {
                if (i) sw.put(',');
                if (const MemberText* t = ready(ms[i])) sw.put(t->part(MemberText::source));
                else put_source(sw, *ms[i].record);
            }
            sw.put(']');
        }
        o.string("status", to_string(st.status.status));
        o.array("tags", tags);
        {
            ObjectText to(o.key("times"));
            to.value("closed_at", *closed_at);
            to.value("dispatched_at", extreme_time(mt, kDispatchedAt, false));
            to.value("due_at", extreme_time(mt, kDueAt, false, true));
            to.value("registered_at", extreme_time(mt, kRegisteredAt, false));
            to.value("reported_at", extreme_time(mt, kReportedAt, false));
            to.value("resolved_at", *resolved_at);
            to.value("updated_at", *updated_at);
        }
        o.value("title", *title);
        o.string("updated_at", st.updated_at);
    }
    out.street_code = str(*loc, "street_code");
    out.community_code = str(*loc, "community_code");
    out.grid_code = str(*loc, "grid_code");
    out.priority = std::move(priority);
    // When the case ended (source time): closed → times.closed_at; rejected / cancelled → the
    // latest source update (the change that withdrew the last source).
    if (st.status.status == Status::closed) {
        out.ended_at = sdk::parse_rfc3339_ms(text_of(*closed_at)).value_or(1);
    } else if (st.status.status == Status::rejected || st.status.status == Status::cancelled) {
        std::int64_t latest = 0;
        for (const auto& m : mt) latest = std::max(latest, m.ms[kUpdatedAt]);
        out.ended_at = latest > 0 ? latest : 1;
    }
    return out;
}

}  // namespace casehub::host
