#include "cli/case_commands.hpp"

#include "cli/control.hpp"
#include "config/hub_config.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

namespace casehub::cli {

namespace {

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
        std::cerr << "casehub cases action: " << (j.is_object() ? j["error"].get<std::string>() : "bad reply") << "\n";
        return j.is_object() && j.value("code", "") == "not_found" ? 1 : 2;
    }
    if (o.json) {
        std::cout << j.dump() << "\n";
        return 0;
    }
    std::cout << "case " << o.case_id << ": " << o.action << ", status " << j["status"].get<std::string>()
              << " (event " << j["seq"] << ")\n";
    for (const auto& w : j["writebacks"])
        std::cout << "  write-back " << w["id"] << " queued for " << w["system"].get<std::string>() << " "
                  << w["record_id"].get<std::string>() << " (adapter " << w["adapter"].get<std::string>() << ")\n";
    for (const auto& w : j["not_written_back"])
        std::cout << "  not written back to " << w["system"].get<std::string>() << " "
                  << w["record_id"].get<std::string>() << ": " << w["reason"].get<std::string>() << "\n";
    return 0;
}

}  // namespace

void add_case_commands(CLI::App& app, const std::string& config_path, std::function<int()>& run) {
    auto* cases = app.get_subcommand("cases");
    auto o = std::make_shared<ActionOptions>();
    auto* a = cases->add_subcommand("action", "act on a case; the hub writes it back to the source systems");
    a->add_option("case_id", o->case_id, "the case id")->required();
    a->add_option("action", o->action, "what the command centre did")
        ->required()
        ->check(CLI::IsMember({"accept", "start", "resolve", "return"}));
    a->add_option("--note", o->note, "result or reason, as the source system will show it");
    a->add_option("--unit-code", o->unit_code, "handling unit's code");
    a->add_option("--unit-name", o->unit_name, "handling unit's name, e.g. 夫子庙街道办事处");
    a->add_option("--handler", o->handler, "officer in charge");
    a->add_flag("--json", o->json, "machine-readable output");
    a->callback([&run, &config_path, o] { run = [&config_path, o] { return run_action(config_path, *o); }; });
}

}  // namespace casehub::cli
