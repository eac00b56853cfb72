// The synthetic record generator shared by the synth_source plugin and casehub-bench (which
// times the raw ceilings on the same bytes). Header-only, SDK and nlohmann::json only: the plugin
// must not depend on host/.
//
// Record number n of stream s (of S streams) is incident slot g = (n - 1) * S + s of one
// deterministic simulated district: slots are 86.4 s apart in reported time (about 1,000 work
// orders a day, the district's real volume), so correlation sees a realistic density of open
// cases in its time window however many records a run emits. A share of slots are repeat
// reports of an incident a few slots earlier (same place within tens of metres, minutes later,
// same category, reworded text) by another department system; the rest are distinct incidents
// on a grid of the district, at a point inside it, with an address from the nearest gazetteer
// place. Everything but source.received_at (the emit time, which the bench reads back from the
// case document to measure latency) is a function of (seed, g).
#pragma once

#include <casehub/sdk/rfc3339.hpp>
#include <casehub/sdk/sha256.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace casehub::bench {

struct SynthOptions {
    std::uint64_t seed = 1;
    double duplicate_share = 0.15;  // share of slots that repeat an earlier incident
    double closed_share = 0.9;      // share of incidents already closed (a backfill of history)
    std::uint32_t stream = 0, streams = 1;
};

class SynthGenerator {
public:
    // Reads categories.json, grid-map.geojson, gazetteer.json and divisions.json of `reference_dir`.
    explicit SynthGenerator(const std::filesystem::path& reference_dir, SynthOptions o = {}) : o_(o) {
        if (o_.streams == 0 || o_.stream >= o_.streams) throw std::runtime_error("stream must be below streams");
        load(reference_dir);
    }

    std::uint64_t slot(std::uint64_t n) const { return (n - 1) * o_.streams + o_.stream; }

    // The record document for number n (1-based) of this stream; `emit_us` (Unix µs,
    // CLOCK_REALTIME) goes into source.received_at with microseconds.
    std::string record(std::uint64_t n, std::int64_t emit_us) const { return record_of_slot(slot(n), emit_us); }

    std::string record_of_slot(std::uint64_t g, std::int64_t emit_us) const {
        const std::uint64_t root = root_of(g);
        const bool repeat = root != g;
        const Incident in = incident(root);
        // A repeat comes from another system that maps the same category, a few minutes later.
        const auto& opts = by_code_.at(in.category);
        std::size_t pick = in.mapping;
        if (repeat && opts.size() > 1) {
            pick = static_cast<std::size_t>(h(g, 11) % (opts.size() - 1));
            if (pick >= in.mapping) ++pick;
        }
        const Mapping& m = mappings_[opts[pick]];
        const std::int64_t reported = kBaseS + static_cast<std::int64_t>(g) * 864 / 10;
        double lon = in.lon, lat = in.lat;
        if (repeat) {  // the same spot, seen by someone else: within about 15 m
            lon += (unit(h(g, 12)) - 0.5) * 30.0 / kMetresPerDegLon;
            lat += (unit(h(g, 13)) - 0.5) * 30.0 / kMetresPerDegLat;
        }
        return compose(g, m, in, reported, lon, lat, repeat, emit_us);
    }

    // The root incident of slot g: itself, or the earlier slot a repeat reports again.
    std::uint64_t root_of(std::uint64_t g) const {
        for (int depth = 0; depth < 64; ++depth) {
            if (unit(h(g, 1)) >= o_.duplicate_share) return g;
            const std::uint64_t back = 1 + h(g, 2) % 8;  // 1.5 to 12 minutes earlier
            if (back > g) return g;
            g -= back;
        }
        return g;
    }

private:
    static constexpr std::int64_t kBaseS = 1672531200;  // 2023-01-01T08:00:00+08:00
    static constexpr double kMetresPerDegLat = 110940.0;
    static constexpr double kMetresPerDegLon = 94420.0;  // at 32.02° N

    struct Mapping {
        std::string system, scheme, native_code, native_name, code, name_zh, family;
    };
    struct Grid {
        std::string code, street, community;
        double lon, lat;
        std::size_t place;  // nearest gazetteer entry
    };
    struct Place {
        std::string name, type;
        int from = 0, to = 0;
    };
    struct Incident {
        std::string category;
        std::size_t mapping, grid;
        double lon, lat;
        int status;  // index into kStatuses
        int house;
    };

    static std::uint64_t mix(std::uint64_t x) {
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
    }
    std::uint64_t h(std::uint64_t g, std::uint64_t salt) const { return mix(mix(o_.seed ^ (salt << 56)) ^ g); }
    static double unit(std::uint64_t x) { return static_cast<double>(x >> 11) * (1.0 / 9007199254740992.0); }

    static nlohmann::json read_json(const std::filesystem::path& p) {
        std::ifstream in(p);
        if (!in) throw std::runtime_error("cannot read " + p.string());
        return nlohmann::json::parse(in);
    }

    static bool inside(const nlohmann::json& ring, double x, double y) {
        bool in = false;
        for (std::size_t i = 0, j = ring.size() - 1; i < ring.size(); j = i++) {
            const double xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
            if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) in = !in;
        }
        return in;
    }

    void load(const std::filesystem::path& dir) {
        const auto cats = read_json(dir / "categories.json");
        std::map<std::string, std::pair<std::string, std::string>> cat;  // code -> name_zh, family
        for (const auto& c : cats["categories"]) cat[c["code"]] = {c["name_zh"], c["family"]};
        for (const auto& [scheme, mp] : cats["mappings"].items()) {
            for (const auto& e : mp["entries"]) {
                const std::string code = e["code"];
                if (!cat.count(code) || code == cats.value("fallback", "")) continue;
                by_code_[code].push_back(mappings_.size());
                mappings_.push_back({mp["system"], scheme, e["native"], e["name"], code, cat[code].first, cat[code].second});
            }
        }
        for (const auto& [code, list] : by_code_) codes_.push_back(code);
        const auto divisions = read_json(dir / "divisions.json");  // named: a temporary would die before the loop
        for (const auto& s : divisions["streets"]) streets_[s["code"]] = s["name"];

        const auto gaz = read_json(dir / "gazetteer.json");
        std::vector<std::array<double, 2>> pts;
        for (const auto& p : gaz) {
            Place pl{p["name"], p["type"]};
            if (p.contains("house_numbers")) {
                pl.from = p["house_numbers"]["from"];
                pl.to = p["house_numbers"]["to"];
            }
            places_.push_back(pl);
            pts.push_back({p["lon"].get<double>(), p["lat"].get<double>()});
        }
        const auto map = read_json(dir / "grid-map.geojson");
        for (const auto& f : map["features"]) {
            const auto& pr = f["properties"];
            if (pr["layer"] != "grid") continue;
            const auto& ring = f["geometry"]["coordinates"][0];
            // Area centroid; when the polygon is not convex enough for it to lie inside, the
            // first vertex-pair midpoint inside (a real point of the grid either way).
            double a = 0, cx = 0, cy = 0;
            for (std::size_t i = 0; i + 1 < ring.size(); ++i) {
                const double x0 = ring[i][0], y0 = ring[i][1], x1 = ring[i + 1][0], y1 = ring[i + 1][1];
                const double c = x0 * y1 - x1 * y0;
                a += c;
                cx += (x0 + x1) * c;
                cy += (y0 + y1) * c;
            }
            double x = cx / (3 * a), y = cy / (3 * a);
            for (std::size_t i = 0; !inside(ring, x, y) && i < ring.size(); ++i) {
                const std::size_t j = (i + ring.size() / 2) % ring.size();
                x = (ring[i][0].get<double>() + ring[j][0].get<double>()) / 2;
                y = (ring[i][1].get<double>() + ring[j][1].get<double>()) / 2;
            }
            std::size_t best = 0;
            double bd = 1e300;
            for (std::size_t k = 0; k < pts.size(); ++k) {
                const double dx = (pts[k][0] - x) * kMetresPerDegLon, dy = (pts[k][1] - y) * kMetresPerDegLat;
                if (dx * dx + dy * dy < bd) bd = dx * dx + dy * dy, best = k;
            }
            const std::string code = pr["code"];
            grids_.push_back({code, code.substr(0, 9), code.substr(0, 12), x, y, best});
        }
        if (grids_.empty() || mappings_.empty()) throw std::runtime_error("no grids or categories in " + dir.string());
    }

    Incident incident(std::uint64_t root) const {
        Incident in;
        in.category = codes_[h(root, 3) % codes_.size()];
        in.mapping = static_cast<std::size_t>(h(root, 4) % by_code_.at(in.category).size());
        in.grid = static_cast<std::size_t>(h(root, 5) % grids_.size());
        const Grid& gr = grids_[in.grid];
        in.lon = gr.lon + (unit(h(root, 6)) - 0.5) * 80.0 / kMetresPerDegLon;
        in.lat = gr.lat + (unit(h(root, 7)) - 0.5) * 80.0 / kMetresPerDegLat;
        in.status = unit(h(root, 8)) < o_.closed_share ? 5 : static_cast<int>(h(root, 9) % 5);
        in.house = static_cast<int>(h(root, 10) % 1000);
        return in;
    }

    // Status ladder: new, registered, dispatched, in_progress, resolved, closed.
    static constexpr std::array<const char*, 6> kStatuses = {"new", "registered", "dispatched", "in_progress", "resolved", "closed"};

    static std::string native_status(const std::string& sys, int st) {
        static const std::map<std::string, std::array<const char*, 6>> names = {
            {"dcm", {"01 上报", "02 立案", "03 派遣", "04 处置中", "05 处置反馈", "07 结案"}},
            {"hotline12345", {"待受理", "已受理", "已派单", "办理中", "已办结", "已归档"}},
            {"enforcement", {"立案", "立案", "调查取证", "调查取证", "执行", "结案"}},
            {"police", {"1 移交", "1 移交", "1 移交", "2 补充", "2 补充", "2 补充"}},
            {"gridapp", {"待处置", "待处置", "已上报", "处置中", "已办结", "已关闭(办结归档)"}}};
        return names.at(sys)[static_cast<std::size_t>(st)];
    }
    // What each system can say: enforcement has no new/dispatched, police only transfers.
    static int status_for(const std::string& sys, int st) {
        if (sys == "police") return 2;
        if (sys == "enforcement" && st == 0) return 1;
        if (sys == "enforcement" && st == 2) return 3;
        if (sys == "gridapp" && st == 0) return 1;
        return st;
    }

    static std::string t(std::int64_t s) { return sdk::format_rfc3339_beijing(s * 1000); }
    static std::string t_us(std::int64_t us) {
        std::string base = sdk::format_rfc3339_beijing(us / 1000);  // "...ss+08:00"
        char frac[16];
        std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(us % 1000000));
        return base.insert(base.size() - 6, frac);
    }
    static std::string q(const std::string& s) { return nlohmann::json(s).dump(); }
    static std::string num(double v) {
        char b[32];
        std::snprintf(b, sizeof b, "%.6f", v);
        return b;
    }

    std::string address(const Incident& in, std::uint64_t g, bool with_district) const {
        const Place& p = places_[grids_[in.grid].place];
        static constexpr std::array<const char*, 5> rel = {"附近", "旁", "东侧", "门口", "对面"};
        std::string a = with_district ? "秦淮区" : "";
        if (p.type == "road" && p.to >= p.from)
            return a + p.name + std::to_string(p.from + in.house % (p.to - p.from + 1)) + "号";
        return a + p.name + rel[(h(g, 14) % 2) ? in.house % rel.size() : 0];
    }

    std::string compose(std::uint64_t g, const Mapping& m, const Incident& in, std::int64_t reported, double lon,
                        double lat, bool repeat, std::int64_t emit_us) const {
        const std::string& sys = m.system;
        const int st = status_for(sys, in.status);
        const bool dcm = sys == "dcm", hot = sys == "hotline12345", grid = sys == "gridapp";
        static const std::map<std::string, std::array<const char*, 4>> ids = {
            {"dcm", {"26", "dcm.event", "supervisor", "supervisor"}},
            {"hotline12345", {"NJ", "", "phone", "citizen"}},
            {"enforcement", {"QHZF", "", "patrol", "enforcement_officer"}},
            {"police", {"320104", "", "transfer", "citizen"}},
            {"gridapp", {"EV", "", "grid_worker", "grid_worker"}}};
        const auto& sid = ids.at(sys);
        char rid[48];
        std::snprintf(rid, sizeof rid, "%s%02u%010llu", sid[0], o_.stream % 100, static_cast<unsigned long long>(g));
        const std::string kind = m.scheme == "dcm.component" ? "component" : hot ? "appeal" : sys == "police" ? "incident" : "event";

        // Times along the status ladder; the version is the last change (gridapp: a revision).
        const std::int64_t reg = reported + 300 + static_cast<std::int64_t>(h(g, 15) % 600);
        const std::int64_t dis = reg + 600 + static_cast<std::int64_t>(h(g, 16) % 1800);
        const std::int64_t res = dis + 4 * 3600 + static_cast<std::int64_t>(h(g, 17) % (40 * 3600));
        const std::int64_t clo = res + 86400;
        const std::array<std::int64_t, 6> at = {reported, reg, dis, dis + 900, res, clo};
        const std::int64_t updated = at[static_cast<std::size_t>(st)];
        const std::string version = grid ? std::to_string(st + 1) : t(updated);
        auto opt = [&](int from, std::int64_t v) { return st >= from ? q(t(v)) : std::string("null"); };

        // Text: the same facts, worded differently by each reporter.
        static constexpr std::array<const char*, 6> what = {
            "现场情况比较严重，已经持续了两三天", "来往行人很多，存在安全隐患", "周边居民反映强烈，多次看到无人处理",
            "早晚高峰时段尤其明显，影响通行", "旁边就是小区出入口，老人孩子经过不方便", "天气转热以后气味和影响更大"};
        static constexpr std::array<const char*, 4> ask = {
            "请相关部门尽快到现场核实处理。", "希望尽快安排人员处置并反馈结果。", "请督促责任单位限期整改。",
            "请网格员和社区协调有关部门处理。"};
        const std::string place = address(in, g, false);
        const std::uint64_t v = h(g, 18);
        std::string desc = repeat ? "又发现" + place + "有" + m.name_zh + "的情况，" + what[(v >> 8) % what.size()] + "。" +
                                        ask[(v >> 24) % ask.size()]
                                  : place + "发现" + m.name_zh + "问题，" + what[v % what.size()] + "。" + ask[(v >> 12) % ask.size()];
        const std::string title = place + m.name_zh;

        // Masked personal data, in the forms the validator accepts.
        static constexpr std::array<const char*, 8> surname = {"王", "李", "张", "刘", "陈", "杨", "赵", "周"};
        static constexpr std::array<const char*, 3> tail = {"*", "**", "**"};
        char phone[16];
        std::snprintf(phone, sizeof phone, "1%02u****%04u", static_cast<unsigned>(30 + h(g, 19) % 60),
                      static_cast<unsigned>(h(g, 20) % 10000));
        const std::string name = std::string(surname[h(g, 21) % surname.size()]) + tail[h(g, 22) % tail.size()];
        const std::string reporter_kind = sid[3];

        const Grid& gr = grids_[in.grid];
        const bool coords = !(hot && h(g, 23) % 6 == 0);  // some hotline calls give only an address
        const std::string crs = dcm ? "CGCS2000" : "WGS84";
        const std::string loc = std::string("{\"original\":") +
                                (coords ? "{\"x\":" + num(lon) + ",\"y\":" + num(lat) + ",\"crs\":\"" + crs + "\"}" : "null") +
                                ",\"address\":" + q(address(in, g, true)) +
                                ",\"grid_code\":" + (grid || dcm ? q(gr.code) : std::string("null")) + "}";
        const std::string street_name = streets_.count(gr.street) ? streets_.at(gr.street) : "秦淮区";

        std::string r;
        r.reserve(1400);
        r += R"({"schema":"casehub.record/1","source":{"system":")" + sys + R"(","record_id":")" + rid +
             R"(","version":")" + version + R"(","received_at":")" + t_us(emit_us) + R"("},"kind":")" + kind +
             R"(","appeal_type":)" + (hot ? std::string(repeat ? "\"complaint\"" : "\"report\"") : "null") +
             R"(,"channel":")" + sid[2] + R"(","category":{"code":")" + m.code + R"(","native":{"scheme":")" + m.scheme +
             R"(","code":)" + q(m.native_code) + R"(,"name":)" + q(m.native_name) + R"(}},"title":)" + (hot ? q(title) : std::string("null")) +
             R"(,"description":)" + q(desc) + R"(,"status":")" + kStatuses[static_cast<std::size_t>(st)] +
             R"(","status_native":)" + q(native_status(sys, st)) + R"(,"priority":null,"times":{"reported_at":")" +
             t(reported) + R"(","registered_at":)" + opt(1, reg) + R"(,"dispatched_at":)" + opt(2, dis) +
             R"(,"due_at":)" + opt(2, dis + 3 * 86400) + R"(,"resolved_at":)" + opt(4, res) + R"(,"closed_at":)" +
             opt(5, clo) + R"(,"updated_at":")" + t(updated) + R"("},"location":)" + loc +
             R"(,"reporter":{"kind":")" + reporter_kind + R"(","name_masked":)" + q(name) + R"(,"phone_masked":")" +
             phone + R"(","id_masked":null,"worker_id":)" +
             (reporter_kind == "citizen" ? std::string("null") : "\"W" + std::to_string(1000 + h(g, 24) % 9000) + "\"") +
             R"(},"parties":[],"responsible":)" +
             (dcm || hot ? R"([{"dept_code":")" + gr.street + R"(","name":)" + q(street_name + "办事处") + R"(,"role":"lead"}])"
                         : std::string("[]")) +
             R"(,"tags":[],"satisfaction":null,"confidentiality":"public","attachments":)" +
             (dcm || grid ? R"([{"uri":"http://10.32.104.21:8090/media/)" + std::string(rid) + R"(_1.jpg","mime":"image/jpeg"}])"
                          : std::string("[]")) +
             R"(,"links":[],"raw_sha256":")" +
             sdk::sha256_hex(std::string(rid) + version + desc) + "\"}";
        return r;
    }

    SynthOptions o_;
    std::vector<Mapping> mappings_;
    std::map<std::string, std::vector<std::size_t>> by_code_;
    std::vector<std::string> codes_;
    std::map<std::string, std::string> streets_;
    std::vector<Place> places_;
    std::vector<Grid> grids_;
};

}  // namespace casehub::bench
