// Fuzz target: casehub.record/1 validation (sdk/include/casehub/sdk/record_check.hpp).
//
// Input: the bytes of one record, as an adapter would hand them to the hub.
// Invariants (any violation traps):
//   - parse_and_check_record / check_record(std::string_view) / check_record(json) never throw
//     and agree with each other (same reason, path and message);
//   - a fault's reason is one of the §2.5 codes, its path starts with '$', its message is one
//     line and starts with the path;
//   - not_json leaves the document null; any other outcome leaves it a JSON object;
//   - withhold_personal_data never throws; for a record that passes it changes nothing (every
//     personal field is already masked); for unmasked_personal_data it replaces the field at
//     the fault's path by "[withheld]"; in any case it changes nothing but personal fields, and
//     only into "[withheld]".
// Each input is checked twice: without configured systems and categories, and with a small
// configured set (so unknown_system and unknown_category are reachable).
#include <casehub/sdk/record_check.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"

namespace {

using nlohmann::json;
using casehub::sdk::RecordFault;

constexpr std::string_view kReasons[] = {
    "not_json",      "bad_schema",       "missing_field", "bad_type",
    "bad_enum",      "unknown_system",   "unknown_category", "bad_time",
    "bad_version",   "unmasked_personal_data", "bad_hash", "too_long"};

bool known_reason(std::string_view r) {
    for (std::string_view k : kReasons)
        if (k == r) return true;
    return false;
}

bool same(const std::optional<RecordFault>& a, const std::optional<RecordFault>& b) {
    if (a.has_value() != b.has_value()) return false;
    return !a || (a->reason == b->reason && a->path == b->path && a->message == b->message);
}

std::string describe(const std::optional<RecordFault>& f) {
    return f ? f->reason + " | " + f->path + " | " + f->message : std::string("(passes)");
}

void check_fault(const std::optional<RecordFault>& f) {
    if (!f) return;
    FUZZ_CHECK(known_reason(f->reason), describe(f));
    FUZZ_CHECK(!f->path.empty() && f->path[0] == '$', describe(f));
    FUZZ_CHECK(casehub::fuzz::one_line(f->path), describe(f));
    FUZZ_CHECK(casehub::fuzz::one_line(f->message), describe(f));
    FUZZ_CHECK(f->message.rfind(f->path + ": ", 0) == 0, describe(f));
}

// "$.parties[1].name" -> the value at /parties/1/name, or nullptr.
const json* at_path(const json& doc, std::string_view path) {
    if (path.substr(0, 1) != "$") return nullptr;
    path.remove_prefix(1);
    const json* v = &doc;
    while (!path.empty()) {
        if (path[0] == '.') {
            path.remove_prefix(1);
            const std::size_t end = path.find_first_of(".[");
            const std::string key(path.substr(0, end));
            path = end == std::string_view::npos ? std::string_view{} : path.substr(end);
            if (!v->is_object()) return nullptr;
            const auto it = v->find(key);
            if (it == v->end()) return nullptr;
            v = &*it;
        } else if (path[0] == '[') {
            const std::size_t close = path.find(']');
            if (close == std::string_view::npos) return nullptr;
            const std::size_t i = std::stoul(std::string(path.substr(1, close - 1)));
            path.remove_prefix(close + 1);
            if (!v->is_array() || i >= v->size()) return nullptr;
            v = &(*v)[i];
        } else {
            return nullptr;
        }
    }
    return v;
}

// `withheld` equals `doc` except personal fields replaced by "[withheld]".
void check_withheld(const json& doc, const json& withheld) {
    FUZZ_CHECK(withheld.type() == doc.type());
    if (!doc.is_object()) {
        FUZZ_CHECK(withheld == doc);
        return;
    }
    const std::string_view mark = casehub::sdk::withheld_value;
    // `b` is what withholding made of `a`: unchanged, or (a personal field only) the mark.
    auto may_differ = [&](const json& a, const json* b) {
        return b && (a == *b || (b->is_string() && b->get_ref<const std::string&>() == mark));
    };
    auto unchanged = [](const json& a, const json* b) { return b && a == *b; };
    auto member = [](const json& obj, const std::string& key) -> const json* {
        const auto it = obj.find(key);
        return it == obj.end() ? nullptr : &*it;
    };
    FUZZ_CHECK(withheld.size() == doc.size());
    for (auto it = doc.begin(); it != doc.end(); ++it) {
        const auto w = withheld.find(it.key());
        FUZZ_CHECK(w != withheld.end());
        if (it.key() == "reporter" && it->is_object()) {
            FUZZ_CHECK(w->is_object() && w->size() == it->size());
            for (auto f = it->begin(); f != it->end(); ++f) {
                const bool personal = f.key() == "name_masked" || f.key() == "phone_masked" ||
                                      f.key() == "id_masked";
                const json* after = member(*w, f.key());
                FUZZ_CHECK(personal ? may_differ(f.value(), after) : unchanged(f.value(), after));
            }
        } else if (it.key() == "parties" && it->is_array()) {
            FUZZ_CHECK(w->is_array() && w->size() == it->size());
            for (std::size_t i = 0; i < it->size(); ++i) {
                const json& p = (*it)[i];
                const json& q = (*w)[i];
                if (!p.is_object()) {
                    FUZZ_CHECK(p == q);
                    continue;
                }
                FUZZ_CHECK(q.is_object() && q.size() == p.size());
                for (auto f = p.begin(); f != p.end(); ++f) {
                    const bool personal =
                        f.key() == "name" || f.key() == "id" || f.key() == "phone_masked";
                    const json* after = member(q, f.key());
                    FUZZ_CHECK(personal ? may_differ(f.value(), after)
                                        : unchanged(f.value(), after));
                }
            }
        } else {
            FUZZ_CHECK(*it == *w);
        }
    }
}

void check_once(std::string_view bytes, const casehub::sdk::RecordCheckOptions& opts) {
    json doc;
    std::optional<RecordFault> fault;
    FUZZ_NEVER_THROWS([&] { fault = casehub::sdk::parse_and_check_record(bytes, doc, opts); });
    check_fault(fault);

    std::optional<RecordFault> again;
    FUZZ_NEVER_THROWS([&] { again = casehub::sdk::check_record(bytes, opts); });
    FUZZ_CHECK(same(fault, again), describe(fault) + " vs " + describe(again));

    if (fault && fault->reason == "not_json") {
        FUZZ_CHECK(doc.is_null(), describe(fault));
        return;
    }
    FUZZ_CHECK(doc.is_object(), describe(fault));

    // The parsed-document overload must reach the same verdict.
    std::optional<RecordFault> from_doc;
    FUZZ_NEVER_THROWS([&] { from_doc = casehub::sdk::check_record(doc, opts); });
    FUZZ_CHECK(same(fault, from_doc), describe(fault) + " vs " + describe(from_doc));

    json withheld;
    FUZZ_NEVER_THROWS([&] { withheld = casehub::sdk::withhold_personal_data(doc); });
    check_withheld(doc, withheld);
    if (!fault) {
        // Passing means every personal field is masked: withholding is a no-op.
        FUZZ_CHECK(withheld == doc, "withhold_personal_data changed a record that passes");
    } else if (fault->reason == "unmasked_personal_data") {
        const json* v = at_path(withheld, fault->path);
        FUZZ_CHECK(v && v->is_string() &&
                       v->get_ref<const std::string&>() == casehub::sdk::withheld_value,
                   describe(fault));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);

    static const std::set<std::string, std::less<>> systems = {"hello", "seq", "qinhuai_grid"};
    static const std::set<std::string, std::less<>> categories = {
        "city_appearance.exposed_garbage", "city_appearance.illegal_advertising",
        "street_order.occupied_road"};

    check_once(bytes, {});
    check_once(bytes, {&systems, &categories});

    // A parser hook (here nlohmann without exceptions; the hub's is simdjson) changes no verdict:
    // a text it takes skips the UTF-8 pass, one it declines takes the same way as without it.
    casehub::sdk::RecordCheckOptions hooked{&systems, &categories};
    hooked.parse = [](std::string_view t, json& out) {
        out = json::parse(t.begin(), t.end(), nullptr, false);
        return !out.is_discarded();
    };
    std::optional<RecordFault> plain, fast;
    FUZZ_NEVER_THROWS([&] { plain = casehub::sdk::check_record(bytes, {&systems, &categories}); });
    FUZZ_NEVER_THROWS([&] { fast = casehub::sdk::check_record(bytes, hooked); });
    FUZZ_CHECK(same(plain, fast), describe(plain) + " vs " + describe(fast) + " (with a parser hook)");
    return 0;
}
