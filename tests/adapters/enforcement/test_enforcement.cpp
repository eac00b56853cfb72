// The enforcement adapter against its simulator through a real casehubd and runner: every row of
// every complete file reaches the store exactly once (from the simulator's ground truth), bad rows
// are dead letters, incomplete files are rejected with a .reason, the folder is emptied, no raw
// phone or identity number is stored or logged, and kill -9 of the runner loses and duplicates
// nothing.
#include "../../integration/harness.hpp"
#include "../../support/simulator.hpp"

#include <map>
#include <random>
#include <regex>
#include <set>

using namespace casehub::test;
using nlohmann::json;

namespace {

std::string categories_file() { return std::string(CASEHUB_SOURCE_DIR) + "/config/qinhuai/categories.json"; }

std::string adapter_toml(const fs::path& zfaj, int grace_s = 2) {
    return "[[adapters]]\nid = \"enforcement\"\nplugin = \"enforcement\"\n[adapters.config]\ndir = \"" +
           zfaj.string() + "\"\ncategories_file = \"" + categories_file() + "\"\nincomplete_grace_s = " +
           std::to_string(grace_s) + "\nbatch_size = 7\nscan_interval_ms = 100\n";
}

// Simulator options with every irregularity of §6 at a high rate.
// Simulated time runs 120 times faster: an export run every real second, a case changes every
// few seconds. `rate`: enforcement records per simulated minute; `count`: incidents of the world
// (about one in nine reaches enforcement).
std::vector<std::string> sim_args(const fs::path& zfaj, const std::string& count, bool irregular = true,
                                  const std::string& rate = "6") {
    std::vector<std::string> a = {"--dir", zfaj.string(), "--rate", rate, "--count", count, "--speed", "120",
                                  "--export-every", "120", "--late-max", "0"};
    if (irregular) {
        for (const char* kv : {"--p-utf8=0.5", "--p-date-mixed=0.5", "--p-incomplete=0.2", "--p-blank-after-trailer=0.5",
                               "--p-whitespace=0.3", "--p-unidentified=0.2", "--p-multiline=0.3", "--p-comma=0.3",
                               "--p-two-phones=0.4", "--p-bureau=0.1", "--p-orphan-tmp=0.15", "--p-slow-copy=0.15",
                               "--slow-delay=0.4", "--p-bad=0.1"}) {
            std::string s(kv);
            auto eq = s.find('=');
            a.push_back(s.substr(0, eq));
            a.push_back(s.substr(eq + 1));
        }
    }
    return a;
}

struct Truth {
    std::map<std::string, std::string> latest;  // record_id → newest version served in a complete file
    std::size_t records = 0, bad = 0, transport = 0;
};

Truth truth_of(const Simulator& sim) {
    Truth t;
    for (const auto& l : sim.truth()) {
        const std::string kind = l.value("kind", "");
        if (kind == "record") {
            ++t.records;
            auto& v = t.latest[l.at("record_id").get<std::string>()];
            v = std::max(v, l.at("version").get<std::string>());
        } else if (kind == "bad") {
            ++t.bad;
        } else if (kind == "transport") {
            ++t.transport;
        }
    }
    return t;
}

long long counter(const fs::path& db, const std::string& name) {
    return query_int(db, "SELECT " + name + " FROM adapter_counters WHERE adapter='enforcement'");
}

std::size_t csv_left(const fs::path& zfaj) {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(zfaj))
        if (e.is_regular_file() && e.path().extension() == ".csv") ++n;
    return n;
}

// Every served record version is in the store (the newest per case), every bad row is a dead
// letter, and the folder holds no export file any more.
bool settled(const Simulator& sim, const fs::path& db, const fs::path& zfaj, std::size_t min_records) {
    const Truth t = truth_of(sim);
    if (t.records < min_records || csv_left(zfaj) != 0) return false;
    if (counter(db, "records_in") != static_cast<long long>(t.records)) return false;
    if (query_int(db, "SELECT count(*) FROM dead_letters WHERE adapter='enforcement' AND stage='adapter'") !=
        static_cast<long long>(t.bad))
        return false;
    std::map<std::string, std::string> stored;
    for (const auto& row : query(db, "SELECT record_id || '|' || version FROM source_records WHERE system='enforcement'")) {
        auto bar = row.find('|');
        stored[row.substr(0, bar)] = row.substr(bar + 1);
    }
    return stored == t.latest;
}

// Raw personal data: a mobile number, a fixed line with area code, or an 18/15-digit resident ID,
// standing alone (not part of a longer run of digits or of a hex digest).
std::size_t raw_personal(const std::string& text) {
    static const std::regex re(R"((^|[^0-9a-fA-F*])(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}|[0-9]{17}[0-9X]|[0-9]{15})([^0-9a-fA-F]|$))");
    return static_cast<std::size_t>(std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator()));
}

std::string all_text(const fs::path& db, const Hub& hub) {
    std::string s;
    for (const auto& d : query(db, "SELECT doc FROM source_records WHERE system='enforcement'")) {
        json j = json::parse(d);
        j.erase("raw_sha256");
        s += j.dump() + "\n";
    }
    for (const auto& d : query(db, "SELECT doc || ' ' || detail FROM dead_letters WHERE adapter='enforcement'")) s += d + "\n";
    for (const auto& d : query(db, "SELECT doc FROM cases")) s += d + "\n";
    s += hub.log();
    return s;
}

}  // namespace

TEST_CASE("enforcement: every irregularity of the CSV exchange: records exactly once, masked, bad rows dead-lettered, folder emptied", "[integration]") {
    TempDir dir;
    const fs::path zfaj = dir.path / "ZFAJ";
    Simulator sim("enforcement", dir.path, sim_args(zfaj, "300"));
    Hub hub(dir.path, hub_toml("", adapter_toml(zfaj)));
    hub.start();
    const auto db = hub.db();
    REQUIRE(wait_until([&] { return settled(sim, db, zfaj, 25); }, 50s, 200ms));
    const Truth t = truth_of(sim);
    INFO("records " << t.records << " bad " << t.bad << " transport " << t.transport);
    CHECK(counter(db, "duplicates") == 0);
    CHECK(counter(db, "stale") == 0);
    CHECK(counter(db, "dead_lettered") == 0);  // nothing the hub's validation refused

    // The files the simulator wrote, and where the adapter put them.
    std::size_t utf8 = 0, gbk = 0, incomplete = 0, reexport = 0, slow = 0;
    std::ifstream man(dir.path / "enforcement-sim-files.jsonl");
    std::string line;
    while (std::getline(man, line)) {
        json f = json::parse(line);
        const std::string name = f["file"];
        (f["encoding"] == "utf-8-bom" ? utf8 : gbk)++;
        slow += f["slow"].get<bool>();
        if (f["kind"] == "incomplete") {
            ++incomplete;
            CHECK(fs::exists(zfaj / "rejected" / name));
            std::ifstream r(zfaj / "rejected" / (name + ".reason"));
            std::string reason;
            std::getline(r, reason);
            CHECK_THAT(reason, Catch::StartsWith(name + ": trailer"));
        } else {
            reexport += f["kind"] == "reexport";
            CHECK(fs::exists(zfaj / "done" / name));
        }
    }
    CHECK(utf8 > 0);
    CHECK(gbk > 0);
    CHECK(incomplete > 0);
    CHECK(reexport == incomplete);
    CHECK(t.bad > 0);

    // Records: fields, masking, categories.
    std::set<std::string> mapped;
    {
        std::ifstream in(categories_file());
        json c = json::parse(in);
        for (const auto& e : c["mappings"]["enforcement.zfsx"]["entries"]) mapped.insert(e["code"].get<std::string>());
    }
    std::size_t natural = 0, legal = 0, unidentified = 0, multiline = 0, two_phones = 0;
    for (const auto& d : query(db, "SELECT doc FROM source_records WHERE system='enforcement'")) {
        json r = json::parse(d);
        CHECK(mapped.count(r["category"]["code"].get<std::string>()) == 1);
        CHECK(r["category"]["native"]["scheme"] == "enforcement.zfsx");
        CHECK(r["kind"] == "event");
        CHECK_THAT(r["description"].get<std::string>(), Catch::StartsWith("案由："));
        CHECK(r["source"]["version"] == r["times"]["updated_at"]);
        const std::string addr = r["location"]["address"];
        CHECK(addr.find('\r') == std::string::npos);
        CHECK(addr.rfind(" ", 0) != 0);
        CHECK(addr.rfind("\u3000", 0) != 0);
        multiline += addr.find('\n') != std::string::npos;
        if (r["parties"].empty()) ++unidentified;
        for (const auto& p : r["parties"]) {
            if (p["kind"] == "natural_person") {
                ++natural;
                if (p["name"].is_string()) CHECK_THAT(p["name"].get<std::string>(), Catch::Contains("*"));
                if (p["id"].is_string()) CHECK_THAT(p["id"].get<std::string>(), Catch::Contains("********"));
            } else {
                ++legal;
                CHECK_THAT(p["name"].get<std::string>(), Catch::StartsWith("南京"));
                CHECK(p["id"].get<std::string>().size() == 18);
            }
            if (p["phone_masked"].is_string()) {
                const std::string ph = p["phone_masked"];
                CHECK_THAT(ph, Catch::Contains("*"));
                two_phones += ph.find(',') != std::string::npos;  // `;` `/` `、` lists joined with ','
            }
        }
    }
    CHECK(natural > 0);
    CHECK(legal > 0);
    CHECK(unidentified > 0);
    CHECK(multiline > 0);   // a line break inside a quoted 违法地点, kept as LF
    CHECK(two_phones > 0);
    CHECK(raw_personal(all_text(db, hub)) == 0);
    // Hand-made re-exports (§6.3) passed through: 3.20104E+17 identity numbers are reported by
    // field, never by value.
    const std::string log = hub.log();
    if (log.find("spreadsheet number form") != std::string::npos)
        CHECK_THAT(log, Catch::Contains("证件号码: id: spreadsheet number form"));
    CHECK_THAT(log, !Catch::Contains("3.20104E+17"));

    // Dead letters name the column and the line, and carry the masked row.
    for (const auto& d : query(db, "SELECT reason || ' ' || detail FROM dead_letters WHERE adapter='enforcement'"))
        CHECK_THAT(d, Catch::Matches("(missing_field|bad_time) ZFAJ_[0-9]{14}_[0-9]{3}\\.csv line [0-9]+: .*"));

    // The cursor: the last file processed, all of its rows.
    auto cur = query(db, "SELECT cursor FROM adapter_cursors WHERE adapter='enforcement'");
    REQUIRE(cur.size() == 1);
    CHECK_THAT(cur[0], Catch::Matches("ZFAJ_[0-9]{14}_[0-9]{3}\\.csv#[0-9]+"));
    CHECK(fs::exists(zfaj / "done" / cur[0].substr(0, cur[0].find('#'))));
    CHECK(hub.terminate() == 0);
}

TEST_CASE("enforcement: kill -9 of the runner at random moments: nothing lost, nothing emitted twice", "[integration]") {
    TempDir dir;
    const fs::path zfaj = dir.path / "ZFAJ";
    Simulator sim("enforcement", dir.path, sim_args(zfaj, "400"));
    Hub hub(dir.path, hub_toml("backoff_initial_ms = 100\nbackoff_max_ms = 500\nmax_fast_crashes = 100\n", adapter_toml(zfaj)));
    hub.start();
    const auto db = hub.db();
    std::mt19937 rng(42);
    int kills = 0;
    for (int i = 0; i < 5; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 1200));
        json a = hub.adapter("enforcement");
        if (!a.is_object() || !a.contains("pid")) continue;
        const int pid = a["pid"].get<int>();
        if (pid > 0 && ::kill(pid, SIGKILL) == 0) ++kills;
        REQUIRE(wait_until([&] {
            json b = hub.adapter("enforcement");
            return b.is_object() && b.value("pid", 0) > 0 && b.value("pid", 0) != pid;
        }, 15s));
    }
    CHECK(kills >= 3);
    REQUIRE(wait_until([&] { return settled(sim, db, zfaj, 30); }, 60s, 200ms));
    CHECK(counter(db, "duplicates") == 0);
    CHECK(counter(db, "stale") == 0);
    CHECK(raw_personal(all_text(db, hub)) == 0);
    CHECK(hub.terminate() == 0);
}

TEST_CASE("enforcement: casehub-plugin-check passes against the simulator", "[integration]") {
    TempDir dir;
    const fs::path zfaj = dir.path / "ZFAJ";
    Simulator sim("enforcement", dir.path, sim_args(zfaj, "400", false, "30"));
    auto r = run({bin("bin/casehub-plugin-check").string(), std::string(CASEHUB_PLUGIN_DIR) + "/enforcement.so",
                  "--set", "dir=" + zfaj.string(), "--set", "categories_file=" + categories_file(),
                  "--set", "scan_interval_ms=100", "--seconds", "4"});
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains("cn.gov.qinhuai.enforcement"));
    CHECK_THAT(r.output, Catch::Contains("capabilities []"));  // read-only exchange (§8): no write-back
}
