#include "cli/case_commands.hpp"

#include "cli/control.hpp"
#include "config/hub_config.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <iostream>
#include <pwd.h>
#include <unistd.h>
#include <memory>

namespace casehub::cli {

namespace {

// Where the hub routed an action, a merge or a split: the write-backs it queued and the records
// whose systems cannot be told. A queued write-back may still end `unsupported` when the
// adapter's document cannot express the action: `casehub cases show` has the outcome.
void print_routing(const nlohmann::json& j) {
    for (const auto& w : j.value("writebacks", nlohmann::json::array()))
        std::cout << "  write-back " << w["id"] << " queued for " << w["system"].get<std::string>() << " "
                  << w["record_id"].get<std::string>() << " (adapter " << w["adapter"].get<std::string>() << ")\n";
    for (const auto& w : j.value("not_written_back", nlohmann::json::array()))
        std::cout << "  not written back to " << w["system"].get<std::string>() << " "
                  << w["record_id"].get<std::string>() << ": " << w["reason"].get<std::string>() << "\n";
}

struct ActionOptions {
    std::string case_id, action, note, unit_code, unit_name, handler;
    bool json = false;
};

int run_action(const std::string& config, const ActionOptions& o) {
    auto cfg = host::load_hub_config(config);
    if (!cfg) return std::cerr << cfg.error().message << "\n", 2;
    nlohmann::json req = {{"cmd", "case_action"}, {"case_id", o.case_id}, {"action", o.action},
                          {"note", o.note},       {"handler", o.handler},
                          {"unit", {{"code", o.unit_code}, {"name", o.unit_name}}}};
    auto reply = control_request(cfg->hub.control_endpoint, req, std::chrono::milliseconds(10000));
    if (!reply) {
        std::cerr << "casehubd is not answering on " << cfg->hub.control_endpoint << "\n";
        return 3;
    }
    const auto& j = *reply;
    if (!j.is_object() || j.contains("error")) {
        // --json: the hub's refusal as it is ({error, code, field}); exit 1 not_found, else 2.
        if (o.json && j.is_object()) std::cout << j.dump() << std::endl;
        std::cerr << "casehub cases action: " << (j.is_object() ? j["error"].get<std::string>() : "bad reply") << "\n";
        return j.is_object() && j.value("code", "") == "not_found" ? 1 : 2;
    }
    if (o.json) {
        std::cout << j.dump() << "\n";
        return 0;
    }
    std::cout << "case " << o.case_id << ": " << o.action << ", status " << j["status"].get<std::string>()
              << " (event " << j["seq"] << ")\n";
    print_routing(j);
    return 0;
}

struct OverrideOptions {
    std::string case_id, other, record, by, note;
    bool json = false;
};

std::string login_name() {
    if (const char* u = std::getenv("USER"); u && *u) return u;
    if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_name) return pw->pw_name;
    return "operator";
}

// merge / split: the hub does it (it is the store's only writer) and answers with the events.
int run_override(const std::string& config, const std::string& cmd, const OverrideOptions& o) {
    auto cfg = host::load_hub_config(config);
    if (!cfg) return std::cerr << cfg.error().message << "\n", 2;
    nlohmann::json req = {{"cmd", cmd}, {"case_id", o.case_id}, {"by", o.by.empty() ? login_name() : o.by},
                          {"note", o.note}};
    if (cmd == "case_merge") req["other"] = o.other;
    else req["record"] = o.record;
    auto reply = control_request(cfg->hub.control_endpoint, req, std::chrono::milliseconds(10000));
    if (!reply) {
        std::cerr << "casehubd is not answering on " << cfg->hub.control_endpoint << "\n";
        return 3;
    }
    const auto& j = *reply;
    const std::string verb = cmd == "case_merge" ? "merge" : "split";
    if (!j.is_object() || j.contains("error")) {
        if (o.json && j.is_object()) std::cout << j.dump() << std::endl;
        std::cerr << "casehub cases " << verb << ": " << (j.is_object() ? j["error"].get<std::string>() : "bad reply") << "\n";
        return j.is_object() && j.value("code", "") == "not_found" ? 1 : 2;
    }
    if (o.json) {
        std::cout << j.dump() << "\n";
        return 0;
    }
    if (cmd == "case_merge")
        std::cout << "case " << o.other << " merged into " << j["case_id"].get<std::string>() << "\n";
    else
        std::cout << "record " << o.record << " split out of " << o.case_id << " into new case "
                  << j["case_id"].get<std::string>() << "; the correlator will not join them again\n";
    for (const auto& e : j["events"])
        std::cout << "  event " << e["seq"] << " on " << e["case_id"].get<std::string>() << ": " << e["type"].get<std::string>() << "\n";
    print_routing(j);
    return 0;
}

}  // namespace

void add_case_commands(CLI::App& app, const std::string& config_path, std::function<int()>& run) {
    auto* cases = app.get_subcommand("cases");
    auto o = std::make_shared<ActionOptions>();
    auto* a = cases->add_subcommand("action", "act on a case; the hub writes it back to the source systems");
    a->add_option("case_id", o->case_id, "the case id")->required();
    a->add_option("action", o->action,
                  "what the command centre did: accept, dispatch (needs --unit-code), start, resolve, verify, "
                  "close, reopen (needs --note) or return")
        ->required()
        ->check(CLI::IsMember({"accept", "dispatch", "start", "resolve", "verify", "close", "reopen", "return"}));
    a->add_option("--note", o->note, "result or reason, as the source system will show it");
    a->add_option("--unit-code", o->unit_code,
                  "handling unit's code: D01-D54 (departments.json), a street office (320104001-320104012) or a "
                  "community (12 digits); for dispatch, the unit dispatched to");
    a->add_option("--unit-name", o->unit_name, "handling unit's name, e.g. 夫子庙街道办事处");
    a->add_option("--handler", o->handler, "officer in charge");
    a->add_flag("--json", o->json, "machine-readable output");
    a->callback([&run, &config_path, o] { run = [&config_path, o] { return run_action(config_path, *o); }; });

    auto m = std::make_shared<OverrideOptions>();
    auto* mc = cases->add_subcommand("merge", "merge case OTHER into CASE_ID (audited; an operator's decision stands)");
    mc->add_option("case_id", m->case_id, "the case that stays")->required();
    mc->add_option("other", m->other, "the case merged into it (keeps its history, points to CASE_ID)")->required();
    mc->add_option("--by", m->by, "who decides (default: the login name)");
    mc->add_option("--note", m->note, "why");
    mc->add_flag("--json", m->json, "machine-readable output");
    mc->callback([&run, &config_path, m] { run = [&config_path, m] { return run_override(config_path, "case_merge", *m); }; });

    auto sp = std::make_shared<OverrideOptions>();
    auto* sc = cases->add_subcommand("split", "move one record out of a case into a new case; never re-joined automatically");
    sc->add_option("case_id", sp->case_id, "the case")->required();
    sc->add_option("record", sp->record, "the record, as system:record_id (e.g. hotline12345:NJ20260309004512)")->required();
    sc->add_option("--by", sp->by, "who decides (default: the login name)");
    sc->add_option("--note", sp->note, "why");
    sc->add_flag("--json", sp->json, "machine-readable output");
    sc->callback([&run, &config_path, sp] { run = [&config_path, sp] { return run_override(config_path, "case_split", *sp); }; });
}

}  // namespace casehub::cli
