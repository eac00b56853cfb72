#include "cli/deadletter_commands.hpp"

#include "cli/control.hpp"

#include "config/hub_config.hpp"
#include "store/store.hpp"

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <casehub/sdk/rfc3339.hpp>

#include <iostream>

namespace casehub::cli {

namespace {

struct Options {
    std::string adapter;
    bool all = false, json = false, yes = false, replayed_only = false;
    int limit = 100;
    std::int64_t after = 0;
    std::vector<std::int64_t> ids;
};

Result<std::unique_ptr<host::Store>> open_store(const std::string& config_path) {
    auto cfg = host::load_hub_config(config_path);
    if (!cfg) return cfg.error();
    if (!std::filesystem::exists(cfg->hub.store)) return make_error(cfg->hub.store.string() + ": no store yet (has casehubd run?)");
    return host::Store::open(cfg->hub.store, host::Store::Sync::normal);
}

nlohmann::json to_json(const host::DeadLetterRow& d, bool with_doc) {
    nlohmann::json j = {{"id", d.id}, {"adapter", d.adapter}, {"stage", d.stage}, {"reason", d.reason},
                        {"path", d.path}, {"detail", d.detail}, {"cursor", d.cursor},
                        {"received_at", sdk::format_rfc3339_beijing(d.received_at)},
                        {"replayed_at", d.replayed_at ? nlohmann::json(sdk::format_rfc3339_beijing(*d.replayed_at)) : nlohmann::json()},
                        {"replay_outcome", d.replay_outcome}};
    if (with_doc) {
        auto parsed = nlohmann::json::parse(d.doc, nullptr, false);
        j["doc"] = parsed.is_discarded() ? nlohmann::json(d.doc) : parsed;
    }
    return j;
}

int list(const std::string& config, const Options& o) {
    auto store = open_store(config);
    if (!store) return std::cerr << store.error().message << "\n", 2;
    auto rows = (*store)->dead_letters(o.adapter, o.after, o.limit, o.all);
    if (!rows) return std::cerr << rows.error().message << "\n", 2;
    if (o.json) {
        for (const auto& d : *rows) std::cout << to_json(d, false).dump() << "\n";
        return 0;
    }
    std::printf("%-7s %-12s %-10s %-22s %-25s %-20s %s\n", "ID", "ADAPTER", "STAGE", "REASON", "PATH", "RECEIVED", "REPLAY");
    for (const auto& d : *rows)
        std::printf("%-7lld %-12s %-10s %-22s %-25s %-20s %s\n", static_cast<long long>(d.id), d.adapter.c_str(),
                    d.stage.c_str(), d.reason.c_str(), d.path.c_str(),
                    sdk::format_rfc3339_beijing(d.received_at).substr(0, 19).c_str(), d.replay_outcome.c_str());
    if (rows->empty()) std::cout << "(no dead letters" << (o.all ? "" : " waiting") << ")\n";
    return 0;
}

int show(const std::string& config, const Options& o) {
    auto store = open_store(config);
    if (!store) return std::cerr << store.error().message << "\n", 2;
    int rc = 0;
    for (auto id : o.ids) {
        auto d = (*store)->dead_letter(id);
        if (!d) return std::cerr << d.error().message << "\n", 2;
        if (!*d) {
            std::cerr << "no dead letter " << id << "\n";
            rc = 1;
            continue;
        }
        std::cout << to_json(**d, true).dump(o.json ? -1 : 2) << "\n";
    }
    return rc;
}

int replay(const std::string& config, const Options& o) {
    auto cfg = host::load_hub_config(config);
    if (!cfg) return std::cerr << cfg.error().message << "\n", 2;
    nlohmann::json req = {{"cmd", "replay_deadletters"}};
    if (!o.ids.empty()) req["ids"] = o.ids;
    else if (!o.adapter.empty()) req["adapter"] = o.adapter;
    auto reply = control_request(cfg->hub.control_endpoint, req, std::chrono::milliseconds(30000));
    if (!reply) {
        std::cerr << "casehubd is not answering on " << cfg->hub.control_endpoint
                  << " (replay needs the hub running: it re-submits through the pipeline)\n";
        return 3;
    }
    auto& j = *reply;
    if (!j.is_object() || j.contains("error")) {
        std::cerr << (j.is_object() ? j["error"].get<std::string>() : "bad reply") << "\n";
        return 1;
    }
    if (o.json) {
        std::cout << j.dump() << "\n";
        return 0;
    }
    int applied = 0, still = 0;
    for (const auto& r : j["replayed"]) {
        std::string outcome = r["outcome"];
        std::cout << r["id"] << "  " << outcome << "\n";
        applied += outcome == "applied";
        still += outcome.rfind("still invalid", 0) == 0;
    }
    std::cout << j["replayed"].size() << " replayed: " << applied << " applied, " << still << " still invalid\n";
    return 0;
}

int purge(const std::string& config, const Options& o) {
    if (!o.yes) {
        std::cerr << "purge deletes dead letters for good; add --yes (and --replayed-only to keep the unresolved ones)\n";
        return 64;
    }
    auto store = open_store(config);
    if (!store) return std::cerr << store.error().message << "\n", 2;
    if (auto r = (*store)->begin(); !r) return std::cerr << r.error().message << "\n", 2;
    auto n = (*store)->purge_dead_letters(o.adapter, o.replayed_only);
    if (!n) {
        (*store)->rollback();
        return std::cerr << n.error().message << "\n", 2;
    }
    if (auto r = (*store)->commit(); !r) return std::cerr << r.error().message << "\n", 2;
    std::cout << *n << " dead letters purged\n";
    return 0;
}

}  // namespace

void add_deadletter_commands(CLI::App& app, const std::string& config_path, std::function<int()>& run) {
    auto o = std::make_shared<Options>();
    auto* dl = app.add_subcommand("deadletters", "records that could not be applied, kept for inspection");
    dl->require_subcommand(1);
    auto* l = dl->add_subcommand("list", "dead letters not yet replayed successfully");
    l->add_option("--adapter", o->adapter, "only this adapter");
    l->add_flag("--all", o->all, "include the ones replayed successfully");
    l->add_option("--after", o->after, "only ids greater than this (paging)");
    l->add_option("--limit", o->limit, "at most this many")->capture_default_str();
    l->add_flag("--json", o->json, "one JSON object per line");
    l->callback([&run, &config_path, o] { run = [&config_path, o] { return list(config_path, *o); }; });
    auto* s = dl->add_subcommand("show", "one dead letter with its document");
    s->add_option("ids", o->ids, "dead letter ids")->required();
    s->add_flag("--json", o->json, "compact JSON");
    s->callback([&run, &config_path, o] { run = [&config_path, o] { return show(config_path, *o); }; });
    auto* r = dl->add_subcommand("replay", "re-submit to the pipeline after a configuration or mapping fix");
    r->add_option("ids", o->ids, "dead letter ids (default: every one waiting)");
    r->add_option("--adapter", o->adapter, "every waiting one of this adapter");
    r->add_flag("--json", o->json, "machine-readable output");
    r->callback([&run, &config_path, o] { run = [&config_path, o] { return replay(config_path, *o); }; });
    auto* p = dl->add_subcommand("purge", "delete dead letters");
    p->add_option("--adapter", o->adapter, "only this adapter");
    p->add_flag("--replayed-only", o->replayed_only, "only the ones replayed successfully");
    p->add_flag("--yes", o->yes, "really delete");
    p->callback([&run, &config_path, o] { run = [&config_path, o] { return purge(config_path, *o); }; });
}

}  // namespace casehub::cli
