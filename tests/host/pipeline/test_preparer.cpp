// The Preparer: records parsed, validated, located and profiled on a worker thread give exactly
// what Pipeline::prepare gives on the applying thread, in order, record by record, while that
// thread uses the same Locator (PROJ included) at the same time.
#include "pipeline/preparer.hpp"

#include "pipeline/locator.hpp"
#include "pipeline/pipeline.hpp"

#include "../../support/spec_examples.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using casehub::host::Categories;
using casehub::host::Locator;
using casehub::host::Pipeline;
using casehub::host::Preparer;
using nlohmann::json;

namespace {

std::shared_ptr<const Locator> district() {
    static auto l = Locator::load(CASEHUB_SOURCE_DIR "/config/qinhuai");
    if (!l) FAIL(l.error().message);
    return *l;
}

Pipeline make_pipeline() {
    auto c = Categories::load(CASEHUB_SOURCE_DIR "/config/qinhuai/categories.json");
    if (!c) FAIL(c.error().message);
    return Pipeline(std::move(*c), {}, district());
}

// n records: §6.1 (EPSG:4549, through PROJ) and §6.2 (GCJ-02) moved around the district,
// every seventh one invalid (no status) and every eleventh not JSON.
std::vector<std::string> records(int n) {
    std::vector<std::string> out;
    const json e61 = json::parse(casehub::test::example_61), e62 = json::parse(casehub::test::example_62);
    for (int i = 0; i < n; ++i) {
        if (i % 11 == 10) {
            out.push_back("{\"source\": " + std::to_string(i));
            continue;
        }
        json r = i % 2 ? e61 : e62;
        r["source"]["record_id"] = "R" + std::to_string(i);
        json& o = r["location"]["original"];
        if (i % 2)
            o["x"] = o["x"].get<double>() + (i * 37 % 900) - 450, o["y"] = o["y"].get<double>() + (i * 53 % 900) - 450;
        else
            o["x"] = o["x"].get<double>() + (i % 97) * 1e-4, o["y"] = o["y"].get<double>() - (i % 89) * 1e-4;
        r["title"] = "道路破损 " + std::to_string(i);
        if (i % 7 == 6) r.erase("status");
        out.push_back(r.dump());
    }
    return out;
}

void check_same(const Pipeline::Prepared& a, const Pipeline::Prepared& b) {
    REQUIRE(a.fault.has_value() == b.fault.has_value());
    if (a.fault) {
        CHECK(a.fault->reason == b.fault->reason);
        CHECK(a.fault->path == b.fault->path);
        return;
    }
    CHECK(a.rec == b.rec);
    CHECK(a.cat == b.cat);
    CHECK(a.where.location == b.where.location);
    CHECK(a.where.notes == b.where.notes);
    CHECK(a.profile.located == b.profile.located);
    CHECK(a.profile.lon == b.profile.lon);
    CHECK(a.profile.lat == b.profile.lat);
    CHECK(a.profile.reported_ms == b.profile.reported_ms);
    CHECK(a.profile.text == b.profile.text);
    CHECK(a.profile.address == b.profile.address);
}

std::vector<std::string_view> views(const std::vector<std::string>& v, std::size_t from, std::size_t to) {
    return {v.begin() + static_cast<std::ptrdiff_t>(from), v.begin() + static_cast<std::ptrdiff_t>(to)};
}

}  // namespace

TEST_CASE("preparer: the worker's records equal the inline prepare, in order, while the applying thread locates too", "[unit]") {
    const Pipeline pipeline = make_pipeline();
    const auto recs = records(1200);
    std::vector<Pipeline::Prepared> expected;
    for (const auto& r : recs) expected.push_back(pipeline.prepare(r));
    // The generator must exercise every path: PROJ-located, GCJ-02-located, invalid, not JSON.
    int located = 0, invalid = 0;
    for (const auto& e : expected) e.fault ? ++invalid : located += e.where.location["method"] == "coordinates";
    REQUIRE(located > 800);
    REQUIRE(invalid > 250);

    Preparer prep(pipeline, true);
    std::vector<std::shared_ptr<Preparer::Batch>> batches;
    for (std::size_t at = 0; at < recs.size(); at += 300) batches.push_back(prep.submit(views(recs, at, at + 300)));
    // Meanwhile this thread uses the same Locator, as the intake thread does for a case's members.
    const json e61 = json::parse(casehub::test::example_61);
    const json want = district()->locate(e61).location;
    for (int i = 0; i < 200; ++i) REQUIRE(district()->locate(e61).location == want);

    std::size_t k = 0;
    for (auto& b : batches) {
        REQUIRE(b->size() == 300);
        for (std::size_t i = 0; i < b->size(); ++i) check_same(b->take(i), expected[k++]);
    }
    CHECK(k == recs.size());
}

TEST_CASE("preparer: a record taken twice (a retried commit) is prepared again, the same", "[unit]") {
    const Pipeline pipeline = make_pipeline();
    const auto recs = records(20);
    Preparer prep(pipeline, true);
    auto b = prep.submit(views(recs, 0, recs.size()));
    for (std::size_t i = 0; i < recs.size(); ++i) {
        auto first = b->take(i);
        auto again = b->take(i);
        check_same(first, again);
        check_same(again, pipeline.prepare(recs[i]));
    }
}

TEST_CASE("preparer: without a worker, take() prepares on the caller's thread", "[unit]") {
    const Pipeline pipeline = make_pipeline();
    const auto recs = records(30);
    Preparer prep(pipeline, false);
    auto b = prep.submit(views(recs, 0, recs.size()));
    for (std::size_t i = 0; i < recs.size(); ++i) check_same(b->take(i), pipeline.prepare(recs[i]));
    auto empty = prep.submit({});
    CHECK(empty->size() == 0);
}

TEST_CASE("preparer: destroyed with batches submitted and not taken, it finishes them and stops", "[unit]") {
    const Pipeline pipeline = make_pipeline();
    const auto recs = records(600);
    std::shared_ptr<Preparer::Batch> kept;
    {
        Preparer prep(pipeline, true);
        for (std::size_t at = 0; at < recs.size(); at += 100) kept = prep.submit(views(recs, at, at + 100));
        prep.submit({});
    }
    // The last batch outlives its Preparer, complete: taking from it does not wait.
    for (std::size_t i = 0; i < kept->size(); ++i) check_same(kept->take(i), pipeline.prepare(recs[500 + i]));
}

TEST_CASE("preparer: records handed back are destroyed by the worker, two per record prepared, the rest once idle", "[unit]") {
    const Pipeline pipeline = make_pipeline();
    const auto recs = records(40);
    Preparer prep(pipeline, true);
    std::vector<Pipeline::Prepared> spent;
    for (std::size_t i = 0; i < 30; ++i) spent.push_back(pipeline.prepare(recs[i]));
    prep.recycle(std::move(spent));
    CHECK(prep.recycled_pending() == 30);

    auto b = prep.submit(views(recs, 30, 40));
    for (std::size_t i = 0; i < b->size(); ++i) check_same(b->take(i), pipeline.prepare(recs[30 + i]));
    CHECK(prep.recycled_pending() == 10);  // 2 before each of the 10 records

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (prep.recycled_pending() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(prep.recycled_pending() == 0);
    prep.recycle({});
    CHECK(prep.recycled_pending() == 0);
}

TEST_CASE("preparer: without a worker, records handed back are destroyed at once", "[unit]") {
    const Pipeline pipeline = make_pipeline();
    const auto recs = records(5);
    Preparer prep(pipeline, false);
    std::vector<Pipeline::Prepared> spent;
    for (const auto& r : recs) spent.push_back(pipeline.prepare(r));
    prep.recycle(std::move(spent));
    CHECK(prep.recycled_pending() == 0);
}

TEST_CASE("compose: the values a worker serialised ahead give the same case document as compose_case's own", "[unit]") {
    using casehub::host::CaseMember;
    using casehub::host::ComposeInput;
    using casehub::host::compose_case;
    using casehub::host::MemberText;
    const Pipeline pipeline = make_pipeline();
    const json e61 = json::parse(casehub::test::example_61), e62 = json::parse(casehub::test::example_62);
    // Records that exercise each value compose_case takes from a member: parties an array or
    // not, an address to fill from another member (the location then edited), no title, a
    // primary chosen by system precedence, escapes and non-ASCII text.
    std::vector<json> recs = {e61, e62, e61, e62, e61};
    recs[1]["parties"] = {{{"kind", "legal_person"}, {"name", "秦淮区某\"餐饮\"公司"}, {"id", "91320104MA1XXXXX0Q"}}};
    recs[2]["source"]["record_id"] = "X2";
    recs[2]["location"]["address"] = nullptr;
    recs[2]["parties"] = nullptr;
    recs[2]["description"] = "井盖\"缺失\"\t\\ 路口";
    recs[3]["source"]["record_id"] = "X3";
    recs[3]["title"] = nullptr;
    recs[3]["location"] = {{"original", nullptr}, {"address", nullptr}, {"grid_code", nullptr}};
    recs[4]["source"]["system"] = "gridapp";
    recs[4]["source"]["record_id"] = "X4";
    std::vector<Pipeline::Prepared> prepared;
    for (const auto& r : recs) {
        prepared.push_back(pipeline.prepare(r.dump()));
        REQUIRE_FALSE(prepared.back().fault);
        REQUIRE(prepared.back().text.ready);
    }
    ComposeInput in;
    in.case_id = "C20260309-000001";
    in.created_at = in.updated_at = "2026-03-09T10:00:00.000+08:00";
    in.seq = 42;
    int compared = 0;
    // Every non-empty subset of the records, in order, each with the texts of none, one or all.
    for (unsigned mask = 1; mask < (1u << recs.size()); ++mask) {
        std::vector<std::size_t> idx;
        for (std::size_t i = 0; i < recs.size(); ++i)
            if (mask & (1u << i)) idx.push_back(i);
        std::vector<CaseMember> plain;
        for (auto i : idx) plain.push_back({&prepared[i].rec, &prepared[i].where, prepared[i].cat});
        const std::string want = compose_case(plain, in).doc;
        CHECK(json::parse(want).dump() == want);
        for (std::size_t with = 0; with <= idx.size(); ++with) {  // idx.size(): all of them
            std::vector<CaseMember> ms = plain;
            for (std::size_t k = 0; k < ms.size(); ++k)
                if (with == idx.size() || with == k) ms[k].text = &prepared[idx[k]].text;
            INFO("records " << mask << ", texts of " << with);
            CHECK(compose_case(ms, in).doc == want);
            ++compared;
        }
    }
    CHECK(compared == 111);
    // A text not ready is not used.
    MemberText empty;
    std::vector<CaseMember> one = {{&prepared[0].rec, &prepared[0].where, prepared[0].cat, &empty}};
    CHECK(compose_case(one, in).doc == compose_case({{&prepared[0].rec, &prepared[0].where, prepared[0].cat}}, in).doc);
}
