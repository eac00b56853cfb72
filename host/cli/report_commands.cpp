#include "cli/report_commands.hpp"

#include "cli/control.hpp"
#include "config/hub_config.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <memory>

namespace casehub::cli {

namespace {

using nlohmann::json;

struct ReportOptions {
    std::string period, format = "json", out;
    bool excel_bom = false;
};

int run_report(const std::string& config, const char* kind, const ReportOptions& o) {
    auto cfg = host::load_hub_config(config);
    if (!cfg) return std::cerr << cfg.error().message << "\n", 2;
    const bool monthly = std::string(kind) == "monthly";
    if (o.period.size() != (monthly ? 7u : 4u)) {
        std::cerr << "casehub report " << kind << ": the period is " << (monthly ? "a month, YYYY-MM" : "a year, YYYY")
                  << ", got \"" << o.period << "\"\n";
        return 2;
    }
    json req = {{"cmd", "report"}, {"period", o.period}, {"format", o.format}, {"excel_bom", o.excel_bom}};
    auto reply = control_request(cfg->hub.control_endpoint, req, std::chrono::milliseconds(120000));
    if (!reply) {
        std::cerr << "casehubd is not answering on " << cfg->hub.control_endpoint << "\n";
        return 3;
    }
    const json& j = *reply;
    if (!j.is_object() || j.contains("error")) {
        std::cerr << "casehub report " << kind << ": "
                  << (j.is_object() && j["error"].is_string() ? j["error"].get<std::string>() : "bad reply") << "\n";
        return j.is_object() && j.value("code", "") == "not_found" ? 1 : 2;
    }
    for (const auto& n : j.value("notes", json::array()))
        if (n.is_string()) std::cerr << "note: " << n.get<std::string>() << "\n";
    const std::string body = o.format == "json" ? j["report"].dump(2) + "\n" : j.value("content", "");
    if (o.out.empty() || o.out == "-") {
        std::cout << body;
        return 0;
    }
    std::ofstream f(o.out, std::ios::binary);
    f << body;
    if (!f) {
        std::cerr << "casehub report: cannot write " << o.out << "\n";
        return 2;
    }
    std::cerr << "wrote " << o.out << " (" << body.size() << " bytes)\n";
    return 0;
}

}  // namespace

void add_report_commands(CLI::App& app, const std::string& config_path, std::function<int()>& run) {
    auto* report = app.add_subcommand("report", "the district's whistle report: monthly, or the annual roll-up");
    report->require_subcommand(1);
    auto add = [&](const char* kind, const char* help, const char* period_help) {
        auto o = std::make_shared<ReportOptions>();
        auto* c = report->add_subcommand(kind, help);
        c->add_option("period", o->period, period_help)->required();
        c->add_option("--format", o->format, "json (the source of truth), csv (the unit ranking) or html (a page with charts)")
            ->check(CLI::IsMember({"json", "csv", "html"}))
            ->capture_default_str();
        c->add_option("--out", o->out, "write to this file (default: standard output)");
        c->add_flag("--excel-bom", o->excel_bom, "csv: prepend a UTF-8 BOM so Excel reads the Chinese names");
        c->callback([&run, &config_path, o, kind] { run = [&config_path, o, kind] { return run_report(config_path, kind, *o); }; });
    };
    add("monthly", "one month: whistles, on-time rates, unit ranking, cases solved per tier, 12345 satisfaction",
        "the month, YYYY-MM (e.g. 2019-03)");
    add("annual", "one year, with a per-month series", "the year, YYYY (e.g. 2019)");
}

}  // namespace casehub::cli
