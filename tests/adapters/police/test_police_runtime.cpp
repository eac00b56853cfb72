// The built police.so in-process (casehub::sdk::FakeHost, as the runner drives it) on hand-made
// batch pairs: the acceptance rule of §2, rejection, re-delivery, mj=2, the cursor, write-back.
#include "police_test_support.hpp"

#include "../../integration/harness.hpp"

#include <casehub/sdk/record_check.hpp>

using namespace police_test;
using casehub::sdk::FakeHost;
using casehub::test::TempDir;

namespace {

void poll_n(FakeHost& h, int n) {
    for (int i = 0; i < n; ++i) {
        auto st = h.poll(std::chrono::milliseconds(60));
        INFO(h.last_error());
        REQUIRE((st == CASEHUB_OK || st == CASEHUB_ERR_UNAVAILABLE));
    }
}

}  // namespace

TEST_CASE("police: a pair is taken only once complete and moves to done/ after the hub's ack", "[runtime]") {
    TempDir dir;
    const fs::path inbox = dir.path / "inbox";
    const std::string batch = "20260309081000_0042";
    std::vector<std::string> lines{record_line(1), record_line(2), record_line(3)};
    const std::string body = body_of(lines);
    // §8.1: the manifest first, the records file still growing.
    write(inbox / ("JQ_" + batch + ".manifest"), manifest_for(batch, body, 3));
    write(inbox / ("JQ_" + batch + ".jsonl"), body.substr(0, body.size() / 2));
    write(inbox / "README.txt", "not a batch");
    write(inbox / ".ferry-JQ_20260309081200_0043.jsonl.part", "being copied");

    FakeHost h(descriptor());
    h.create(config(dir.path));
    h.start();
    poll_n(h, 4);
    CHECK(h.records().empty());
    CHECK_THAT(all_logs(h), Catch::Contains("batch " + batch + " incomplete"));

    write(inbox / ("JQ_" + batch + ".jsonl"), body);
    poll_n(h, 3);
    auto recs = h.records();
    REQUIRE(recs.size() == 3);
    for (const auto& r : recs) CHECK_FALSE(casehub::sdk::check_record(r).has_value());
    CHECK(json::parse(recs[0])["raw_sha256"] == casehub::sdk::sha256_hex(lines[0]));
    auto batches = h.batches();
    REQUIRE(batches.size() == 1);
    CHECK(json::parse(batches[0].cursor) == json::parse(R"({"v":1,"pending":["20260309081000_0042"]})"));
    // Acked (FakeHost acks after each poll): the pair is in done/, strays are left alone.
    CHECK(names(inbox / "done") == std::set<std::string>{"JQ_" + batch + ".jsonl", "JQ_" + batch + ".manifest"});
    CHECK(names(inbox) == std::set<std::string>{".ferry-JQ_20260309081200_0043.jsonl.part", "README.txt", "done"});
    CHECK(h.dead_letters().empty());
}

TEST_CASE("police: CRs added by the ferry - re-delivery as .dup - rejection with a .reason", "[runtime]") {
    TempDir dir;
    const fs::path inbox = dir.path / "inbox";
    FakeHost h(descriptor());
    h.create(config(dir.path, 1));
    h.start();

    // CR before every LF: the hash is over the sender's bytes.
    std::vector<std::string> lines{record_line(1), record_line(2)};
    const std::string body = body_of(lines);
    std::string crlf = lines[0] + "\r\n" + lines[1] + "\r\n";
    write(inbox / "JQ_20260309081000_0001.jsonl", crlf);
    write(inbox / "JQ_20260309081000_0001.manifest", manifest_for("20260309081000_0001", body, 2));
    poll_n(h, 3);
    REQUIRE(h.records().size() == 2);
    CHECK(json::parse(h.records()[0])["raw_sha256"] == casehub::sdk::sha256_hex(lines[0]));

    // §8.2: the same batch again after a ferry restart: nothing emitted, kept as .dup.
    deliver(inbox, "20260309081000_0001", lines);
    poll_n(h, 3);
    CHECK(h.records().size() == 2);
    CHECK(names(inbox / "done").count("JQ_20260309081000_0001.jsonl.dup") == 1);
    CHECK(names(inbox / "done").count("JQ_20260309081000_0001.manifest.dup") == 1);
    CHECK_THAT(all_logs(h), Catch::Contains("re-delivered"));

    // A tampered records file never matches: rejected once reject_after_s has passed.
    std::string tampered = body_of({record_line(3), record_line(4)});
    write(inbox / "JQ_20260309081200_0002.manifest", manifest_for("20260309081200_0002", tampered, 2));
    tampered.replace(tampered.find("周先生"), 9, "周女士");
    write(inbox / "JQ_20260309081200_0002.jsonl", tampered);
    // A records file whose manifest never comes; a manifest that can never be right.
    write(inbox / "JQ_20260309081400_0003.jsonl", body_of({record_line(5)}));
    write(inbox / "JQ_20260309081600_0004.jsonl", body_of({record_line(6)}));
    json wrong_schema = json::parse(manifest_for("20260309081600_0004", body_of({record_line(6)}), 1));
    wrong_schema["schema"] = "FJWJQ/0.9";
    write(inbox / "JQ_20260309081600_0004.manifest", wrong_schema.dump());
    poll_n(h, 2);
    CHECK(names(inbox / "rejected").count("20260309081600_0004.reason") == 1);  // at once
    CHECK(names(inbox).count("JQ_20260309081200_0002.jsonl") == 1);            // still waiting
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    poll_n(h, 3);
    CHECK(h.records().size() == 2);
    auto rejected = names(inbox / "rejected");
    CHECK(rejected == std::set<std::string>{"JQ_20260309081200_0002.jsonl", "JQ_20260309081200_0002.manifest",
                                            "20260309081200_0002.reason", "JQ_20260309081400_0003.jsonl",
                                            "20260309081400_0003.reason", "JQ_20260309081600_0004.jsonl",
                                            "JQ_20260309081600_0004.manifest", "20260309081600_0004.reason"});
    CHECK_THAT(read(inbox / "rejected/20260309081200_0002.reason"), Catch::Contains("SHA-256"));
    CHECK_THAT(read(inbox / "rejected/20260309081400_0003.reason"), Catch::Contains("no manifest"));
    CHECK_THAT(read(inbox / "rejected/20260309081600_0004.reason"), Catch::Contains("schema"));
    CHECK(names(inbox) == std::set<std::string>{"done", "rejected"});
}

TEST_CASE("police: mj=2 records are dropped and counted by batch and scrubbed from the archive", "[runtime]") {
    TempDir dir;
    const fs::path inbox = dir.path / "inbox";
    const std::string secret = record_line(2, {{"mj", 2}, {"bjdh", "13912345678"}, {"bjrxm", "欧阳明辉"},
                                               {"bjnr", "涉密内容：某单位内部情况"}});
    deliver(inbox, "20260309081000_0007", {record_line(1), secret, record_line(3)});
    FakeHost h(descriptor());
    h.create(config(dir.path));
    h.start();
    poll_n(h, 3);
    REQUIRE(h.records().size() == 2);
    CHECK(h.dead_letters().empty());
    const std::string logs = all_logs(h);
    CHECK_THAT(logs, Catch::Contains("batch 20260309081000_0007: 1 record(s) with mj=2"));
    for (const std::string& s : {std::string("13912345678"), std::string("欧阳"), std::string("涉密内容"),
                                 std::string("32010020260309010002")}) {
        INFO(s);
        CHECK(logs.find(s) == std::string::npos);
        for (const auto& r : h.records()) CHECK(r.find(s) == std::string::npos);
        CHECK(read(inbox / "done/JQ_20260309081000_0007.jsonl").find(s) == std::string::npos);
    }
    CHECK(read(inbox / "done/JQ_20260309081000_0007.jsonl") == body_of({record_line(1), record_line(3)}));
    CHECK_THAT(read(inbox / "done/20260309081000_0007.confidential"), Catch::Contains("1 record(s) with mj=2"));
}

TEST_CASE("police: bad records are dead-lettered with masked bytes and the batch's cursor", "[runtime]") {
    TempDir dir;
    const fs::path inbox = dir.path / "inbox";
    deliver(inbox, "20260309081000_0008",
            {record_line(1), record_line(2, {{"czlx", 7}}), record_line(3, {{"bjxldm", "50X1"}}),
             record_line(4).substr(0, 120), record_line(5, {{"bjlbdm", "02"}, {"bjxldm", "0213"}})});
    FakeHost h(descriptor());
    h.create(config(dir.path));
    h.start();
    poll_n(h, 3);
    auto recs = h.records();
    REQUIRE(recs.size() == 2);
    CHECK(json::parse(recs[1])["category"]["code"] == "other.unclassified");  // §8.8: still a transfer
    auto dl = h.dead_letters();
    REQUIRE(dl.size() == 3);
    CHECK(dl[0].reason == "missing_field");
    CHECK_THAT(dl[0].detail, Catch::Contains("batch 20260309081000_0008 line 2"));
    CHECK_THAT(dl[0].detail, Catch::Contains("czlx"));
    CHECK(dl[1].reason == "bad_enum");
    CHECK(dl[2].reason == "not_json");
    for (const auto& d : dl) {
        CHECK(d.native.find("13600136000") == std::string::npos);
        CHECK(d.native.find("周先生") == std::string::npos);
        CHECK(json::parse(d.cursor)["pending"] == json::parse(R"(["20260309081000_0008"])"));
    }
}

TEST_CASE("police: after a restart a committed batch is only moved and an uncommitted one is read again", "[runtime]") {
    TempDir dir;
    const fs::path inbox = dir.path / "inbox";
    deliver(inbox, "20260309081000_0010", {record_line(1), record_line(2)});
    std::string committed;
    {
        FakeHost h(descriptor());
        h.auto_ack = false;  // the runner dies before the ack reaches the plugin
        h.create(config(dir.path));
        h.start();
        poll_n(h, 3);
        REQUIRE(h.records().size() == 2);
        committed = h.last_cursor();
    }
    CHECK(names(inbox).count("JQ_20260309081000_0010.jsonl") == 1);  // not acked: still there
    deliver(inbox, "20260309081200_0011", {record_line(3)});
    {
        // The hub committed batch 10 (and its cursor): 10 is moved without a record, 11 is new.
        FakeHost h(descriptor());
        h.create(config(dir.path));
        h.start(committed);
        poll_n(h, 3);
        auto recs = h.records();
        REQUIRE(recs.size() == 1);
        CHECK(json::parse(recs[0])["source"]["record_id"] == "32010020260309010003");
        CHECK(names(inbox / "done").count("JQ_20260309081000_0010.manifest") == 1);
        CHECK(names(inbox / "done").count("JQ_20260309081200_0011.manifest") == 1);
        CHECK(json::parse(h.last_cursor())["pending"] == json::parse(R"(["20260309081200_0011"])"));
    }
    deliver(inbox, "20260309081400_0012", {record_line(4)});
    {
        // The hub did not commit batch 12 before dying: from the older cursor it is read again.
        FakeHost h(descriptor());
        h.auto_ack = false;
        h.create(config(dir.path));
        h.start(committed);
        poll_n(h, 3);
        REQUIRE(h.records().size() == 1);
    }
    {
        FakeHost h(descriptor());
        h.create(config(dir.path));
        h.start(committed);
        poll_n(h, 3);
        REQUIRE(h.records().size() == 1);
        CHECK(json::parse(h.records()[0])["source"]["record_id"] == "32010020260309010004");
    }
    CHECK(names(inbox) == std::set<std::string>{"done"});
}

TEST_CASE("police: an unreadable inbox is transient and a bad configuration is refused", "[runtime]") {
    TempDir dir;
    FakeHost h(descriptor());
    h.create(config(dir.path / "not-mounted"));
    h.start();
    CHECK(h.poll(std::chrono::milliseconds(50)) == CASEHUB_ERR_UNAVAILABLE);
    CHECK_THAT(h.last_error(), Catch::Contains("inbox"));
    fs::create_directories(dir.path / "not-mounted/inbox");
    CHECK(h.poll(std::chrono::milliseconds(50)) == CASEHUB_OK);

    FakeHost bad(descriptor());
    auto c = config(dir.path);
    c["categories_file"] = (dir.path / "missing.json").string();
    CHECK_THROWS_WITH(bad.create(c), Catch::Contains("categories_file"));
}

TEST_CASE("police: write-back writes a JQFK pair that matches its manifest", "[runtime]") {
    TempDir dir;
    FakeHost h(descriptor());
    h.create(config(dir.path));
    h.start();
    json rec = {{"schema", "casehub.record/1"},
                {"source", {{"system", "police"}, {"record_id", "32010020260308011952"}}},
                {"responsible", json::parse(R"([{"dept_code":"320104009","name":"瑞金路街道办事处","role":"lead"}])")}};
    json action = {{"v", 1}, {"writeback_id", 3}, {"key", "C20260309-000176:3"}, {"case_id", "C20260309-000176"},
                   {"action", "accept"}, {"status", "accepted"}, {"note", ""},
                   {"unit", {{"code", "320104009"}, {"name", "瑞金路街道办事处"}}}, {"handler", "黄志强"},
                   {"at", "2026-03-09T10:00:00+08:00"}, {"record", rec}};
    REQUIRE(h.write_back(action) == CASEHUB_OK);
    auto out = names(dir.path / "outbox");
    REQUIRE(out.size() == 2);  // no temporary file left behind
    const std::string jsonl = *out.begin(), manifest = *std::next(out.begin());
    CHECK(std::regex_match(jsonl, std::regex(R"(JQFK_[0-9]{14}_[0-9]{4}\.jsonl)")));
    auto m = json::parse(read(dir.path / "outbox" / manifest));
    CHECK(m["file"] == jsonl);
    CHECK(m["schema"] == "FJWJQFK/1.0");
    CHECK(m["sender"] == "QH-CASEHUB");
    CHECK(m["count"] == 1);
    CHECK(m["sha256"] == casehub::sdk::sha256_hex(read(dir.path / "outbox" / jsonl)));
    auto fb = json::parse(read(dir.path / "outbox" / jsonl));
    CHECK(fb["fkid"] == "C20260309-000176:3");
    CHECK(fb["fkzt"] == "已签收");
    CHECK(fb["fknr"] == "已签收");

    action["action"] = "close";
    action["status"] = "closed";
    CHECK(h.write_back(action) == CASEHUB_ERR_UNSUPPORTED);
    CHECK_THAT(h.last_error(), Catch::Contains("close"));
    CHECK(names(dir.path / "outbox").size() == 2);
}
