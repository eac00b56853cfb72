// casehubd: the casehub host process.
#include "common/allocator.hpp"
#include "daemon/hub.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <climits>

int main(int argc, char** argv) {
    // Block the signals casehubd handles through its signalfd before any thread exists, so
    // every thread (the replay server's, ZeroMQ's) inherits the mask and none dies of them.
    sigset_t handled;
    sigemptyset(&handled);
    for (int sig : {SIGTERM, SIGINT, SIGCHLD}) sigaddset(&handled, sig);
    pthread_sigmask(SIG_BLOCK, &handled, nullptr);
    casehub::host::configure_sqlite_for_this_process();  // before any thread or store exists
    const std::string allocator = casehub::host::tune_allocator();
    CLI::App app{"casehubd: the casehub integration hub"};
    std::string config_path = "config/casehub.toml";
    std::string runner;
    app.add_option("-c,--config", config_path, "hub configuration (TOML)")->capture_default_str();
    app.add_option("--runner", runner, "casehub-runner executable (default: next to casehubd)");
    CLI11_PARSE(app, argc, argv);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z casehubd %l %v");

    try {
        auto cfg = casehub::host::load_hub_config(config_path);
        if (!cfg) {
            spdlog::error("{}", cfg.error().message);
            return 2;
        }
        spdlog::set_level(spdlog::level::from_str(cfg->hub.log_level));
        spdlog::log(allocator.starts_with("glibc") ? spdlog::level::warn : spdlog::level::info, "casehubd: allocator {}", allocator);
        std::error_code ec;
        const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
        casehub::host::add_installed_plugin_dir(*cfg, self);
        std::filesystem::path runner_path = runner;
        if (runner_path.empty()) runner_path = cfg->hub.runner;
        if (runner_path.empty()) {
            if (self.empty()) {
                spdlog::error("cannot find own executable to locate casehub-runner; pass --runner");
                return 2;
            }
            runner_path = self.parent_path() / "casehub-runner";
        }
        if (::access(runner_path.c_str(), X_OK) != 0) {
            spdlog::error("{}: casehub-runner not found or not executable", runner_path.string());
            return 2;
        }
        auto hub = casehub::host::Hub::create(std::move(*cfg), runner_path);
        if (!hub) {
            spdlog::error("{}", hub.error().message);
            return 2;
        }
        return (*hub)->run();
    } catch (const std::exception& e) {  // start-up only: everything after returns Results
        spdlog::critical("casehubd: {}", e.what());
        return 1;
    }
}
