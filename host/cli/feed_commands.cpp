#include "cli/feed_commands.hpp"

#include "cli/control.hpp"

#include "config/hub_config.hpp"
#include "feed/feed.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <optional>

namespace casehub::cli {

namespace {

using nlohmann::json;
using host::FeedClient;
using host::FeedClientOptions;
using host::FeedEvent;
using host::FeedFilter;
using Clock = std::chrono::steady_clock;

constexpr int kExitOk = 0, kExitIncomplete = 1, kExitConfig = 2, kExitHub = 3;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// "2026-03-09 09:21:41" in local time from unix ms; "-" for 0.
std::string local_time(std::int64_t ms) {
    if (ms <= 0) return "-";
    const std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

std::string str_at(const json& j, std::initializer_list<const char*> path) {
    const json* p = &j;
    for (const char* k : path) {
        if (!p->is_object()) return "";
        const auto it = p->find(k);
        if (it == p->end()) return "";
        p = &*it;
    }
    return p->is_string() ? p->get<std::string>() : "";
}

json parse_doc(const std::string& doc) {
    json d = json::parse(doc, nullptr, false);
    return d.is_discarded() ? json(doc) : d;
}

struct Loaded {
    std::optional<host::HubConfig> cfg;
    int rc = kExitOk;
};

Loaded load(const std::string& path) {
    Loaded l;
    auto cfg = host::load_hub_config(path);
    if (!cfg) {
        std::cerr << cfg.error().message << "\n";
        l.rc = kExitConfig;
        return l;
    }
    l.cfg = std::move(*cfg);
    return l;
}

// ---- feed tail ----------------------------------------------------------------------------

struct TailOptions {
    std::uint64_t from = 0;
    CLI::Option* from_opt = nullptr;
    std::string street, community, grid, family, status;
    CLI::Option *street_opt = nullptr, *community_opt = nullptr, *grid_opt = nullptr, *family_opt = nullptr,
                *status_opt = nullptr;
    bool json = false;
    std::uint64_t count = 0;
    double timeout = 0;
};

void print_event(const FeedEvent& ev, bool as_json) {
    const auto& e = ev.row;
    if (as_json) {
        json j = host::event_header(e);
        j["doc"] = parse_doc(e.doc);
        std::cout << dump(j) << "\n" << std::flush;
        return;
    }
    const json doc = json::parse(e.doc, nullptr, false);
    std::string category = str_at(doc, {"category", "code"});
    if (category.empty()) category = e.category_family;
    std::printf("%s  %8llu  %-15s %-18s %-9s %-14s %-34s %-10s %s\n", local_time(e.at).c_str(),
                static_cast<unsigned long long>(e.seq), e.type.c_str(), e.case_id.c_str(),
                or_dash(e.street_code).c_str(), or_dash(e.grid_code).c_str(), or_dash(category).c_str(),
                e.status.c_str(), str_at(doc, {"title"}).c_str());
    std::fflush(stdout);
}

int run_tail(const std::string& config_path, const TailOptions& t) {
    auto l = load(config_path);
    if (!l.cfg) return l.rc;
    const auto& hub = l.cfg->hub;
    FeedClientOptions o;
    o.feed_endpoint = hub.feed_endpoint;
    o.snapshot_endpoint = hub.snapshot_endpoint;
    auto opt = [](CLI::Option* set, const std::string& v) {
        return set && set->count() ? std::optional<std::string>(v == "-" ? std::string() : v) : std::nullopt;
    };
    o.filter.street = opt(t.street_opt, t.street);
    o.filter.community = opt(t.community_opt, t.community);
    o.filter.grid = opt(t.grid_opt, t.grid);
    o.filter.family = opt(t.family_opt, t.family);
    o.filter.status = opt(t.status_opt, t.status);
    if (t.from_opt && t.from_opt->count()) {
        o.start = FeedClientOptions::Start::from_seq;
        o.from = t.from;
    }
    zmq::context_t ctx(1);
    auto client = FeedClient::connect(ctx, o);
    if (!client) {
        std::cerr << client.error().message << "\n";
        return kExitConfig;
    }
    FeedClient& c = **client;
    const auto started = Clock::now();
    const bool has_deadline = t.timeout > 0;
    const Clock::time_point deadline =
        has_deadline ? started + std::chrono::milliseconds(static_cast<std::int64_t>(t.timeout * 1000))
                     : Clock::time_point::max();
    if (!t.json && o.start == FeedClientOptions::Start::now)
        std::cerr << "casehub feed: live from " << hub.feed_endpoint << " (Ctrl-C to stop)\n";
    std::uint64_t delivered = 0, gaps = 0;
    bool alive = false, warned_silent = false;
    std::string last_error;
    FeedEvent ev;
    for (;;) {
        auto wait = std::chrono::milliseconds(500);
        if (has_deadline) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            wait = std::max(std::chrono::milliseconds(0), std::min(wait, left));
        }
        const bool got = c.next(ev, wait);
        if (got) {
            print_event(ev, t.json);
            if (t.count && ++delivered >= t.count) return kExitOk;
        }
        // What a person watching should know about, on stderr.
        if (c.counters().gaps_detected != gaps) {
            gaps = c.counters().gaps_detected;
            std::cerr << "casehub feed: gap detected (events after seq " << c.last_seq()
                      << " missed); replaying them from the store\n";
        }
        if (c.last_error() != last_error) {
            last_error = c.last_error();
            if (!last_error.empty()) std::cerr << "casehub feed: " << last_error << "\n";
        }
        const bool now_alive = c.hub_alive();
        if (alive && !now_alive)
            std::cerr << "casehub feed: no heartbeat from casehubd for "
                      << std::chrono::duration_cast<std::chrono::seconds>(o.dead_after).count()
                      << " s; is it running? (waiting)\n";
        else if (!alive && now_alive && warned_silent)
            std::cerr << "casehub feed: casehubd is back\n";
        if (!now_alive && !alive && !warned_silent && Clock::now() - started > o.dead_after) {
            std::cerr << "casehub feed: nothing heard from casehubd on " << hub.feed_endpoint
                      << " (is it running?)\n";
            warned_silent = true;
        }
        if (alive && !now_alive) warned_silent = true;
        alive = now_alive;
        if (has_deadline && Clock::now() >= deadline) {
            if (t.count && delivered < t.count) {
                std::cerr << "casehub feed: " << delivered << " of " << t.count << " events within "
                          << t.timeout << " s\n";
                return kExitIncomplete;
            }
            return kExitOk;
        }
    }
}

// ---- export -------------------------------------------------------------------------------

struct ExportOptions {
    std::string format = "jsonl";
    std::uint64_t since = 0;
    CLI::Option* since_opt = nullptr;
    int timeout_ms = 10000;
};

int run_export(const std::string& config_path, const ExportOptions& x) {
    auto l = load(config_path);
    if (!l.cfg) return l.rc;
    zmq::context_t ctx(1);
    host::ReplayClient rc(ctx, l.cfg->hub.snapshot_endpoint);
    std::string after;
    std::optional<std::uint64_t> first_seq;
    std::uint64_t n = 0, unreadable = 0;
    for (;;) {
        json req = {{"op", "snapshot"}, {"include_closed", true}, {"limit", host::kDefaultPageLimit}};
        if (!after.empty()) req["after"] = after;
        if (x.since_opt && x.since_opt->count()) req["changed_since"] = x.since;
        auto page = rc.request(req, std::chrono::milliseconds(x.timeout_ms));
        if (!page) {
            std::cerr << "casehub export: " << page.error().message << "\n";
            return kExitHub;
        }
        if (!first_seq) first_seq = page->end.value("seq", std::uint64_t{0});
        for (const auto& c : page->cases) {
            const json d = json::parse(c.doc, nullptr, false);
            if (d.is_discarded()) {
                std::cerr << "casehub export: case " << c.case_id << ": its document is not valid JSON; skipped\n";
                ++unreadable;
            } else {
                std::cout << dump(d) << "\n";
                ++n;
            }
            after = c.case_id;
        }
        if (!page->end.value("more", false)) break;
    }
    std::cout << std::flush;
    std::cerr << "casehub export: " << n << " case(s); consistent from seq " << first_seq.value_or(0)
              << " (next time: --since " << first_seq.value_or(0) << ")\n";
    return unreadable ? kExitIncomplete : kExitOk;
}

// ---- cases show ---------------------------------------------------------------------------

struct ShowOptions {
    std::string case_id;
    bool json = false;
    int timeout_ms = 5000;
};

int run_show(const std::string& config_path, const ShowOptions& s) {
    auto l = load(config_path);
    if (!l.cfg) return l.rc;
    zmq::context_t ctx(1);
    host::ReplayClient rc(ctx, l.cfg->hub.snapshot_endpoint);
    std::optional<host::CaseState> state;
    std::vector<host::EventRow> events;
    std::uint64_t from = 0;
    for (;;) {
        auto page = rc.request({{"op", "case"}, {"case_id", s.case_id}, {"seq", from}},
                               std::chrono::milliseconds(s.timeout_ms));
        if (!page) {
            const bool not_found = page.error().message.find("not found") != std::string::npos;
            std::cerr << "casehub cases show: " << page.error().message << "\n";
            return not_found ? kExitIncomplete : kExitHub;
        }
        if (!state && !page->cases.empty()) state = std::move(page->cases.front());
        for (auto& e : page->events) events.push_back(std::move(e));
        if (!page->end.value("more", false)) break;
        from = page->end.value("upto", from);
    }
    if (!state) {
        std::cerr << "casehub cases show: no state for case " << s.case_id << "\n";
        return kExitIncomplete;
    }
    const json doc = parse_doc(state->doc);
    // Write-backs owed to the source systems (the control socket knows them; none if it is quiet).
    json writebacks = json::array();
    if (auto wb = control_request(l.cfg->hub.control_endpoint, {{"cmd", "writebacks"}, {"case_id", s.case_id}},
                                  std::chrono::milliseconds(2000));
        wb && wb->is_object() && (*wb)["writebacks"].is_array())
        writebacks = std::move((*wb)["writebacks"]);
    if (s.json) {
        json out = {{"case", doc}, {"events", json::array()}, {"writebacks", writebacks}};
        for (const auto& e : events) {
            json j = host::event_header(e);
            j["doc"] = parse_doc(e.doc);
            out["events"].push_back(std::move(j));
        }
        std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
        return kExitOk;
    }
    std::string category = str_at(doc, {"category", "code"});
    if (category.empty()) category = state->category_code;
    const std::string created = str_at(doc, {"created_at"}), updated = str_at(doc, {"updated_at"});
    std::printf("case      %s   status %s   priority %s   (last event seq %llu)\n", state->case_id.c_str(),
                state->status.c_str(), or_dash(state->priority).c_str(), static_cast<unsigned long long>(state->seq));
    std::printf("title     %s\n", or_dash(str_at(doc, {"title"})).c_str());
    std::printf("category  %s (%s)\n", or_dash(category).c_str(), or_dash(state->category_family).c_str());
    std::printf("where     street %s  community %s  grid %s  %s\n", or_dash(state->street_code).c_str(),
                or_dash(state->community_code).c_str(), or_dash(state->grid_code).c_str(),
                str_at(doc, {"location", "address"}).c_str());
    std::printf("times     created %s  updated %s\n",
                (created.empty() ? local_time(state->created_at) : created).c_str(),
                (updated.empty() ? local_time(state->updated_at) : updated).c_str());
    if (state->merged_into) std::printf("merged    into %s\n", state->merged_into->c_str());
    if (doc.is_object() && doc.contains("merged_from") && doc["merged_from"].is_array() && !doc["merged_from"].empty())
        std::printf("merged    from %s\n", dump(doc["merged_from"]).c_str());
    if (const std::string cb = str_at(doc, {"closed_by"}); !cb.empty()) std::printf("closed by %s\n", cb.c_str());

    const json sources = doc.is_object() && doc.contains("sources") && doc["sources"].is_array() ? doc["sources"] : json::array();
    std::printf("\nsources (%zu)\n", sources.size());
    if (!sources.empty())
        std::printf("  %-14s %-24s %-32s %-12s %s\n", "SYSTEM", "RECORD_ID", "VERSION", "STATUS", "NATIVE STATUS");
    for (const auto& src : sources)
        std::printf("  %-14s %-24s %-32s %-12s %s\n", or_dash(str_at(src, {"system"})).c_str(),
                    or_dash(str_at(src, {"record_id"})).c_str(), or_dash(str_at(src, {"version"})).c_str(),
                    or_dash(str_at(src, {"status"})).c_str(), str_at(src, {"status_native"}).c_str());

    if (!writebacks.empty()) {
        std::printf("\nwrite-backs (%zu)\n", writebacks.size());
        std::printf("  %6s  %-14s %-24s %-8s %-8s %-8s %s\n", "ID", "SYSTEM", "RECORD_ID", "ACTION", "STATE", "ATTEMPTS", "LAST ERROR");
        for (const auto& w : writebacks)
            std::printf("  %6lld  %-14s %-24s %-8s %-8s %-8d %s\n", static_cast<long long>(w.value("id", 0LL)),
                        w.value("system", "").c_str(), w.value("record_id", "").c_str(),
                        str_at(w, {"action", "action"}).c_str(), w.value("state", "").c_str(), w.value("attempts", 0),
                        w.value("last_error", "").c_str());
    }

    std::printf("\nhistory (%zu event%s)\n", events.size(), events.size() == 1 ? "" : "s");
    if (!events.empty())
        std::printf("  %8s  %-19s  %-15s %-12s %-9s %s\n", "SEQ", "TIME", "TYPE", "STATUS", "STREET", "DETAIL");
    for (const auto& e : events)
        std::printf("  %8llu  %-19s  %-15s %-12s %-9s %s\n", static_cast<unsigned long long>(e.seq),
                    local_time(e.at).c_str(), e.type.c_str(), e.status.c_str(), or_dash(e.street_code).c_str(),
                    e.detail.c_str());
    return kExitOk;
}

// ---- cases why ----------------------------------------------------------------------------
// The correlation decisions and operator overrides that made the case what it is, from its
// events (and from the events of the cases merged into it).

int run_why(const std::string& config_path, const ShowOptions& s) {
    auto l = load(config_path);
    if (!l.cfg) return l.rc;
    zmq::context_t ctx(1);
    host::ReplayClient rc(ctx, l.cfg->hub.snapshot_endpoint);
    std::vector<std::string> todo{s.case_id}, seen;
    json out = json::array();
    while (!todo.empty()) {
        const std::string id = todo.back();
        todo.pop_back();
        if (std::find(seen.begin(), seen.end(), id) != seen.end()) continue;
        seen.push_back(id);
        std::uint64_t from = 0;
        std::optional<host::CaseState> state;
        std::vector<host::EventRow> events;
        for (;;) {
            auto page = rc.request({{"op", "case"}, {"case_id", id}, {"seq", from}}, std::chrono::milliseconds(s.timeout_ms));
            if (!page) {
                const bool not_found = page.error().message.find("not found") != std::string::npos;
                std::cerr << "casehub cases why: " << page.error().message << "\n";
                return not_found ? kExitIncomplete : kExitHub;
            }
            if (!state && !page->cases.empty()) state = std::move(page->cases.front());
            for (auto& e : page->events) events.push_back(std::move(e));
            if (!page->end.value("more", false)) break;
            from = page->end.value("upto", from);
        }
        for (const auto& e : events) {
            const json d = parse_doc(e.detail);
            json line = {{"case_id", e.case_id}, {"seq", e.seq}, {"at", local_time(e.at)}, {"type", e.type}};
            if (d.is_object() && d.contains("correlation")) {
                line["record"] = d.value("record", "");
                line["summary"] = d["correlation"].value("summary", "");
                line["decision"] = d["correlation"];
            } else if (d.is_object() && d.contains("override")) {
                line["summary"] = d.value("summary", "");
                line["decision"] = d;
            } else {
                continue;
            }
            out.push_back(std::move(line));
            if (e.type == "merged" && d.contains("merged_from") && d["merged_from"].is_string())
                todo.push_back(d["merged_from"].get<std::string>());
        }
    }
    std::sort(out.begin(), out.end(), [](const json& a, const json& b) { return a["seq"] < b["seq"]; });
    if (s.json) {
        std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
        return kExitOk;
    }
    std::printf("why case %s is what it is (%zu decision%s)\n", s.case_id.c_str(), out.size(), out.size() == 1 ? "" : "s");
    for (const auto& d : out) {
        const std::string rec = d.value("record", "");
        std::printf("  %8llu  %s  %-10s %s%s%s\n", static_cast<unsigned long long>(d["seq"].get<std::uint64_t>()),
                    d["at"].get<std::string>().c_str(), d["type"].get<std::string>().c_str(),
                    d["case_id"].get<std::string>() == s.case_id ? "" : ("[" + d["case_id"].get<std::string>() + "] ").c_str(),
                    rec.empty() ? "" : (rec + ": ").c_str(), d["summary"].get<std::string>().c_str());
    }
    return kExitOk;
}

// ---- registration -------------------------------------------------------------------------

class Commands final : public FeedCommands {
public:
    Commands(CLI::App& app, const std::string& config_path) : config_(config_path) {
        auto* feed = app.add_subcommand("feed", "the live case feed");
        feed->require_subcommand(1);
        tail_ = feed->add_subcommand("tail", "follow the feed: replay from a seq, then live, never a gap");
        tail_opts_.from_opt = tail_->add_option("--from", tail_opts_.from, "replay every event after this seq first");
        tail_opts_.street_opt = tail_->add_option("--street", tail_opts_.street, "only this street (9-digit code; - for none)");
        tail_opts_.community_opt = tail_->add_option("--community", tail_opts_.community, "only this community");
        tail_opts_.grid_opt = tail_->add_option("--grid", tail_opts_.grid, "only this grid");
        tail_opts_.family_opt = tail_->add_option("--family", tail_opts_.family, "only this category family");
        tail_opts_.status_opt = tail_->add_option("--status", tail_opts_.status, "only events leaving a case in this status");
        tail_->add_flag("--json", tail_opts_.json, "one JSON object per event and line, with seq and the case document");
        tail_->add_option("--count", tail_opts_.count, "stop after N events (exit 1 if --timeout comes first)");
        tail_->add_option("--timeout", tail_opts_.timeout, "stop after S seconds")->check(CLI::NonNegativeNumber);

        export_ = app.add_subcommand("export", "every current case as casehub.case/1, one JSON document per line");
        export_->add_option("--format", export_opts_.format, "output format")
            ->check(CLI::IsMember({"jsonl"}))
            ->capture_default_str();
        export_opts_.since_opt = export_->add_option("--since", export_opts_.since, "only the cases changed after this seq");
        export_->add_option("--timeout-ms", export_opts_.timeout_ms, "how long to wait for casehubd")->capture_default_str();

        auto* cases = app.add_subcommand("cases", "look at cases");
        cases->require_subcommand(1);
        show_ = cases->add_subcommand("show", "a case's state, sources and history of events");
        show_->add_option("case_id", show_opts_.case_id, "the case id, e.g. C20260309-000187")->required();
        show_->add_flag("--json", show_opts_.json, "machine-readable output");
        show_->add_option("--timeout-ms", show_opts_.timeout_ms, "how long to wait for casehubd")->capture_default_str();
        why_ = cases->add_subcommand("why", "the correlation decisions and overrides behind a case, with their evidence");
        why_->add_option("case_id", why_opts_.case_id, "the case id")->required();
        why_->add_flag("--json", why_opts_.json, "machine-readable output");
        why_->add_option("--timeout-ms", why_opts_.timeout_ms, "how long to wait for casehubd")->capture_default_str();
    }

    bool parsed() const override { return tail_->parsed() || export_->parsed() || show_->parsed() || why_->parsed(); }

    int run() const override {
        try {
            if (tail_->parsed()) return run_tail(config_, tail_opts_);
            if (export_->parsed()) return run_export(config_, export_opts_);
            if (show_->parsed()) return run_show(config_, show_opts_);
            if (why_->parsed()) return run_why(config_, why_opts_);
        } catch (const zmq::error_t& e) {  // socket set-up only
            std::cerr << "casehub: " << e.what() << "\n";
            return kExitHub;
        }
        return 64;
    }

private:
    const std::string& config_;
    CLI::App *tail_ = nullptr, *export_ = nullptr, *show_ = nullptr, *why_ = nullptr;
    ShowOptions why_opts_;
    TailOptions tail_opts_;
    ExportOptions export_opts_;
    ShowOptions show_opts_;
};

}  // namespace

std::unique_ptr<FeedCommands> add_feed_commands(CLI::App& app, const std::string& config_path) {
    return std::make_unique<Commands>(app, config_path);
}

}  // namespace casehub::cli
