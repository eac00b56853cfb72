// casehub-bench-correlation: how fast the correlator decides, at 10k, 100k and 1M open cases.
//
// For each size N, a store (SQLite file in a temp dir, the hub's own schema) is filled with N open
// cases of one record each, spread over the district's bounding box and over N/1000 days (a
// district opens about a thousand cases a day, so a backlog of N open cases spans that long:
// the density per place and day stays that of a real district). Then Q new records go through
// Correlator::decide (candidate search in the R*Tree, evidence, the case-level checks) and the
// index write, one transaction per 100 records as the hub's group commit does. Two arrival orders:
//   live      the backlog was stored in report order (give or take an hour) and the new records
//             carry on from its end at the district's rate: what a running hub sees;
//   backfill  the new records fall at random times inside the backlog's span: an import of
//             history in no particular order, the worst case for the store's page cache.
// Printed per size and order: records/s and µs per record (wall time of all of it: the decision,
// the index and case writes, the commits; and the CPU time of the decision alone), index hits per record, the store's size
// and the process's peak RSS. Nothing is asserted: a benchmark prints figures.
//
//   casehub-bench-correlation [--sizes 10000,100000,1000000] [--queries 20000] [--order live,backfill] [--dir /tmp]
#include "correlate/correlator.hpp"
#include "pipeline/categories.hpp"
#include "store/store.hpp"

#include <casehub/sdk/rfc3339.hpp>
#include <nlohmann/json.hpp>

#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace casehub::host;
namespace cor = casehub::host::correlate;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr double kLon0 = 118.755, kLon1 = 118.835, kLat0 = 31.990, kLat1 = 32.060;  // Qinhuai's box
const char* kRoads[] = {"中山南路", "长白街", "大光路", "瑞金路", "中山东路", "升州路", "御道街", "龙蟠中路"};
const char* kThings[] = {"暴露垃圾", "积存垃圾渣土", "道路不洁", "占道经营", "无照经营", "噪音扰民", "井盖破损", "路灯不亮"};
const char* kCats[] = {"city_appearance.exposed_garbage", "city_appearance.accumulated_waste", "city_appearance.dirty_road",
                       "market_food.outside_store_trading", "market_food.unlicensed_business", "noise.residential",
                       "roads_traffic.manhole_cover", "utilities.street_light"};

struct Gen {
    std::mt19937_64 rng{20261128};
    std::int64_t t0, span_ms;
    // A report time: at fraction f of the span give or take an hour, or anywhere in it.
    std::int64_t around(double f) { return t0 + static_cast<std::int64_t>(f * span_ms + (u() - 0.5) * 7200000.0); }
    std::int64_t anywhere() { return t0 + static_cast<std::int64_t>(u() * span_ms); }
    double u() { return std::uniform_real_distribution<double>(0, 1)(rng); }
    int pick(int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); }
    cor::Profile profile(const std::string& system, const std::string& id, std::int64_t at_ms, const Categories& cats,
                         const cor::Settings& s) {
        const int k = pick(8), road = pick(8), number = 1 + pick(300);
        json rec = {{"source", {{"system", system}, {"record_id", id}}},
                    {"title", nullptr},
                    {"description", std::string(kRoads[road]) + std::to_string(number) + "号门口有" + kThings[k] + "，已经好几天没人管了，请尽快处理"},
                    {"times", {{"reported_at", casehub::sdk::format_rfc3339_beijing(at_ms)}}}};
        json loc = {{"wgs84", {{"lon", kLon0 + u() * (kLon1 - kLon0)}, {"lat", kLat0 + u() * (kLat1 - kLat0)}}},
                    {"precision_m", pick(4) == 0 ? 300 : 15},
                    {"address", "秦淮区" + std::string(kRoads[road]) + std::to_string(number) + "号"}};
        const Category* c = cats.find(kCats[k]);
        if (!c) c = cats.find("other.unclassified");
        return cor::make_profile(rec, loc, *c, s);
    }
};

// Prints a store failure and says whether there was one.
template <class R>
bool failed(const R& r, const char* what) {
    if (r) return false;
    std::fprintf(stderr, "casehub-bench-correlation: %s: %s\n", what, r.error().message.c_str());
    return true;
}

bool open_case(Store& store, const std::string& id, const cor::Profile& p, const Categories& cats, std::uint64_t seq) {
    const Category* c = cats.find(p.category);
    CaseRow row{id, "dispatched", "320104001", "320104001001", "32010400100101", p.category, c->family, "general",
                p.reported_ms, p.reported_ms, std::nullopt, "{}"};
    return !failed(store.put_case(row, seq), "storing a case");
}

std::int64_t cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

long peak_rss_mb() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

int run(std::int64_t n, int queries, bool live, const fs::path& dir, const Categories& cats) {
    const fs::path db = dir / ("bench-corr-" + std::to_string(n) + ".db");
    for (const char* ext : {"", "-wal", "-shm"}) fs::remove(db.string() + ext);
    auto opened = Store::open(db, Store::Sync::normal);
    if (!opened) return std::fprintf(stderr, "%s\n", opened.error().message.c_str()), 1;
    Store& store = **opened;
    cor::Settings s = cor::default_settings();
    s.compatible_families = cats.compatible_families();
    const cor::Correlator correlator(s);
    Gen g;
    g.t0 = *casehub::sdk::parse_rfc3339_ms("2024-01-01T00:00:00+08:00");
    g.span_ms = std::max<std::int64_t>(1, n / 1000) * 86400000LL;

    // Fill: N open cases of one record each.
    const auto f0 = std::chrono::steady_clock::now();
    for (std::int64_t i = 0; i < n;) {
        if (failed(store.begin(), "begin")) return 1;
        for (std::int64_t k = 0; k < 20000 && i < n; ++k, ++i) {
            char id[32];
            std::snprintf(id, sizeof id, "C20240101-%07lld", static_cast<long long>(i));
            const std::int64_t at = live ? g.around(double(i) / double(n)) : g.anywhere();
            cor::Profile p = g.profile("dcm", std::to_string(i), at, cats, s);
            if (!open_case(store, id, p, cats, static_cast<std::uint64_t>(i + 1))) return 1;
            if (failed(store.put_corr_record(i + 1, cor::index_row(p, id, s)), "indexing")) return 1;
        }
        if (failed(store.commit(), "commit")) return 1;
        if (i % 200000 == 0 || i == n) std::fprintf(stderr, "  filling %lld/%lld open cases\r", static_cast<long long>(i), static_cast<long long>(n));
    }
    const double fill_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - f0).count();
    std::fprintf(stderr, "\n");

    // Decide Q new records, 100 per transaction.
    std::int64_t hits = 0, joined = 0;
    using clock = std::chrono::steady_clock;
    // Correlator::decide alone (search, evidence, case checks), in CPU time: on a shared machine
    // it moves less than wall time with what else runs.
    std::int64_t deciding_ns = 0;
    const auto q0 = clock::now();
    for (int q = 0; q < queries;) {
        if (failed(store.begin(), "begin")) return 1;
        for (int k = 0; k < 100 && q < queries; ++k, ++q) {
            // Live: a thousand a day from the backlog's end on.
            const std::int64_t at = live ? g.around(1.0 + double(q) * 86400000.0 / 1000.0 / double(g.span_ms)) : g.anywhere();
            cor::Profile p = g.profile("gridapp", "Q" + std::to_string(q), at, cats, s);
            json rec = {{"source", {{"system", "gridapp"}, {"record_id", p.record_id}}}};
            const std::int64_t d0 = cpu_ns();
            auto d = correlator.decide(store, rec, p);
            deciding_ns += cpu_ns() - d0;
            if (!d) return std::fprintf(stderr, "%s\n", d.error().message.c_str()), 1;
            hits += d->candidates;
            joined += d->join ? 1 : 0;
            // As the hub does: a record that joins nothing opens a case, and later records see it.
            const std::string case_id = d->join.value_or("CQ" + std::to_string(q));
            if (!d->join && !open_case(store, case_id, p, cats, static_cast<std::uint64_t>(n + q + 1))) return 1;
            if (failed(store.put_corr_record(n + q + 1, cor::index_row(p, case_id, s)), "indexing")) return 1;
        }
        if (failed(store.commit(), "commit")) return 1;
    }
    const double q_s = std::chrono::duration<double>(clock::now() - q0).count();
    const double d_s = double(deciding_ns) / 1e9;
    std::printf("%-8s  open cases %8lld  correlation %7.0f records/s  %6.1f us/record (decide %6.1f cpu)  %5.1f index hits/record"
                "  %4.1f %% joined  (fill %.0f s, store %lld MB, peak RSS %ld MB)\n",
                live ? "live" : "backfill", static_cast<long long>(n), queries / q_s, 1e6 * q_s / queries,
                1e6 * d_s / queries, double(hits) / queries,
                100.0 * double(joined) / queries, fill_s, static_cast<long long>(fs::file_size(db) / (1 << 20)), peak_rss_mb());
    std::fflush(stdout);
    store.checkpoint();
    for (const char* ext : {"", "-wal", "-shm"}) fs::remove(db.string() + ext);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::int64_t> sizes = {10000, 100000, 1000000};
    int queries = 20000;
    std::vector<bool> orders = {true, false};
    fs::path dir = fs::temp_directory_path();
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--sizes") {
            sizes.clear();
            std::stringstream ss(next());
            for (std::string x; std::getline(ss, x, ',');) sizes.push_back(std::stoll(x));
        } else if (a == "--queries") {
            queries = std::stoi(next());
        } else if (a == "--order") {
            orders.clear();
            std::stringstream ss(next());
            for (std::string x; std::getline(ss, x, ',');) {
                if (x != "live" && x != "backfill") return std::fprintf(stderr, "--order takes live and/or backfill, not %s\n", x.c_str()), 2;
                orders.push_back(x == "live");
            }
        } else if (a == "--dir") {
            dir = next();
        } else {
            std::fprintf(stderr, "usage: casehub-bench-correlation [--sizes 10000,100000,1000000] [--queries 20000] [--order live,backfill] [--dir DIR]\n");
            return a == "--help" || a == "-h" ? 0 : 2;
        }
    }
    auto cats = Categories::load(CASEHUB_SOURCE_DIR "/config/qinhuai/categories.json");
    if (!cats) return std::fprintf(stderr, "%s\n", cats.error().message.c_str()), 1;
    std::printf("casehub-bench-correlation: %d new records per size, open cases over size/1000 days of the district\n", queries);
    for (bool live : orders)
        for (auto n : sizes)
            if (int rc = run(n, queries, live, dir, *cats)) return rc;
    return 0;
}
