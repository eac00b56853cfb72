// casehub-bench-apply: the pipeline alone, on one thread, in process. It applies N synthetic
// records (bench/synth_records.hpp, the bytes casehub-bench sends) to a fresh store, then new
// versions of every seventh, then operator merges and splits, and prints the cost of each per
// record. No processes, sockets or fsync: an A/B of a change to the pipeline or the store in
// seconds, steady enough under callgrind to count instructions.
//
// --events FILE writes every event (seq, type, case, street, status, detail, document), one a
// line: the clock and the records are fixed, so two builds that write the same documents write
// the same file (`cmp` them after a change that must not alter the output).
#include "common/allocator.hpp"
#include "pipeline/categories.hpp"
#include "pipeline/locator.hpp"
#include "pipeline/pipeline.hpp"
#include "store/store.hpp"
#include "synth_records.hpp"

#include <casehub/sdk/rfc3339.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace casehub::host;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::int64_t kStartMs = 1764400000000;  // the hub's clock: fixed, so every run writes the same
constexpr int kCommitEvery = 1000;                // records per transaction, as a full batch

double cpu_s() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double us_since(Clock::time_point t0) { return std::chrono::duration<double, std::micro>(Clock::now() - t0).count(); }

void figure(const char* name, double v, const char* unit) { std::printf("%s %.1f %s\n", name, v, unit); }

int fail(const std::string& what) {
    std::fprintf(stderr, "casehub-bench-apply: %s\n", what.c_str());
    return 1;
}

// Removes the store folder on every way out.
struct TempStore {
    fs::path dir;
    ~TempStore() {
        std::error_code ec;
        if (!dir.empty()) fs::remove_all(dir, ec);
    }
};

}  // namespace

int main(int argc, char** argv) {
    configure_sqlite_for_this_process();  // as casehubd
    const std::string allocator = tune_allocator();
    long records = 20000;
    std::string events_file;
    fs::path parent = fs::temp_directory_path();
    CLI::App app{"casehub-bench-apply: the pipeline alone, on one thread (bench/README.md)"};
    app.add_option("--records", records, "synthetic records to apply")->capture_default_str()->check(CLI::Range(1L, 100000000L));
    app.add_option("--events", events_file, "write every event here, one a line (for cmp between builds)");
    app.add_option("--dir", parent, "where the temporary store goes")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    const fs::path reference = CASEHUB_SOURCE_DIR "/config/qinhuai";
    auto cats = Categories::load(reference / "categories.json");
    if (!cats) return fail(cats.error().message);
    auto locator = Locator::load(reference);
    if (!locator) return fail(locator.error().message);
    // As casehubd sets it up (daemon/hub.cpp): the district's compatible families, recent
    // profiles in memory.
    auto corr = correlate::default_settings();
    corr.compatible_families = cats->compatible_families();
    Pipeline pipeline(std::move(*cats), {}, std::move(*locator), corr);
    const casehub::bench::SynthGenerator gen(reference);

    TempStore tmp;
    std::string dir = (parent / "casehub-bench-apply-XXXXXX").string();
    if (!::mkdtemp(dir.data())) return fail("cannot create a folder in " + parent.string());
    tmp.dir = dir;
    auto opened = Store::open(tmp.dir / "casehub.db", Store::Sync::normal);
    if (!opened) return fail(opened.error().message);
    Store& store = **opened;
    if (auto r = store.enable_corr_cache(static_cast<std::int32_t>((corr.max_gap_hours + 7 * 24) * 60)); !r)
        return fail(r.error().message);

    std::vector<EventRow> events;
    Counters counters;
    std::int64_t now = kStartMs;
    std::vector<std::string> docs;
    docs.reserve(static_cast<std::size_t>(records));
    for (long n = 1; n <= records; ++n) docs.push_back(gen.record(static_cast<std::uint64_t>(n), kStartMs * 1000 + n));
    std::vector<std::string> case_of;  // by record number - 1
    std::printf("# casehub-bench-apply: %ld synthetic records, one thread, a fresh store in %s (synchronous=normal); %s\n",
                records, parent.c_str(), allocator.c_str());

    // 1. Every record, as the hub does it: prepare (the worker's part), then apply.
    double prepare_us = 0, apply_us = 0;
    const double cpu0 = cpu_s();
    if (auto r = store.begin(); !r) return fail(r.error().message);
    for (std::size_t i = 0; i < docs.size(); ++i) {
        auto t0 = Clock::now();
        auto prepared = pipeline.prepare(docs[i]);
        prepare_us += us_since(t0);
        t0 = Clock::now();
        auto r = pipeline.apply(store, "synth", docs[i], std::move(prepared), "c", now += 7, events, counters);
        if (!r) return fail(r.error().message);
        if (*r != Outcome::applied) return fail("record " + std::to_string(i + 1) + ": " + to_string(*r));
        if ((i + 1) % kCommitEvery == 0) {
            if (auto c = store.commit(); !c) return fail(c.error().message);
            if (auto b = store.begin(); !b) return fail(b.error().message);
        }
        apply_us += us_since(t0);
        case_of.push_back(events.back().case_id);
    }
    if (auto c = store.commit(); !c) return fail(c.error().message);
    const double cpu1 = cpu_s();

    // 2. A new version of every seventh record: a status change of its case, or an update.
    double update_us = 0;
    long updates = 0;
    if (auto r = store.begin(); !r) return fail(r.error().message);
    for (std::size_t i = 0; i < docs.size(); i += 7) {
        auto j = nlohmann::json::parse(docs[i]);
        const std::string version = j["source"]["version"];  // an instant, or a revision (gridapp)
        if (const auto v = casehub::sdk::parse_rfc3339_ms(version))
            j["source"]["version"] = casehub::sdk::format_rfc3339_beijing(*v + 3600000);
        else
            j["source"]["version"] = std::to_string(std::stoull(version) + 1);
        j["status"] = i % 14 == 0 ? "closed" : "resolved";
        j["raw_sha256"] = std::string(64, 'a' + static_cast<char>(i % 6));
        const std::string d = j.dump();
        const auto t0 = Clock::now();
        auto r = pipeline.apply(store, "synth", d, "c", now += 7, events, counters);
        if (!r) return fail(r.error().message);
        update_us += us_since(t0);
        ++updates;
    }
    if (auto c = store.commit(); !c) return fail(c.error().message);

    // 3. Operator overrides: record 50k+1's case merged into 50k+2's, then split again.
    double override_us = 0;
    long merges = 0, splits = 0;
    if (auto r = store.begin(); !r) return fail(r.error().message);
    for (std::size_t k = 0; k + 1 < case_of.size(); k += 50) {
        if (case_of[k] == case_of[k + 1]) continue;
        auto t0 = Clock::now();
        auto m = pipeline.merge(store, case_of[k + 1], case_of[k], "bench", "", now += 7, events);
        if (!m) return fail(m.error().message);
        if (m->refused) continue;  // merged away earlier
        ++merges;
        const auto j = nlohmann::json::parse(docs[k]);
        auto s = pipeline.split(store, case_of[k + 1], j["source"]["system"].get<std::string>(),
                                j["source"]["record_id"].get<std::string>(), "bench", "", now += 7, events);
        if (!s) return fail(s.error().message);
        if (!s->refused) ++splits;
        override_us += us_since(t0);
    }
    if (auto c = store.commit(); !c) return fail(c.error().message);

    std::map<std::string, long> types;
    for (const auto& e : events) ++types[e.type];
    const auto n = static_cast<double>(records);
    figure("apply_us_per_record", apply_us / n, "us/record");
    figure("prepare_us_per_record", prepare_us / n, "us/record");
    figure("cpu_us_per_record", (cpu1 - cpu0) * 1e6 / n, "us/record");
    figure("update_us_per_record", updates ? update_us / static_cast<double>(updates) : 0, "us/record");
    figure("merge_and_split_us", merges ? override_us / static_cast<double>(merges) : 0, "us/pair");
    std::string mix;
    for (const auto& [t, c] : types) mix += " " + t + " " + std::to_string(c);
    std::printf("# events:%s (%ld updates, %ld merges, %ld splits)\n", mix.c_str(), updates, merges, splits);

    if (!events_file.empty()) {
        std::ofstream out(events_file);
        for (const auto& e : events)
            out << e.seq << '\t' << e.type << '\t' << e.case_id << '\t' << e.street_code << '\t' << e.status << '\t'
                << e.detail << '\t' << e.doc << '\n';
        if (!out) return fail("cannot write " + events_file);
        std::printf("# events written to %s\n", events_file.c_str());
    }
    return 0;
}
