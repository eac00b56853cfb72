#include "command/report.hpp"

#include "command/escalation.hpp"
#include "command/scoring.hpp"

#include <casehub/sdk/rfc3339.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>

namespace casehub::command {

using nlohmann::json;

namespace {

// Rounded so the JSON prints short, stable numbers (nlohmann prints the shortest round-trip form).
double round_to(double v, int decimals) {
    const double f = std::pow(10.0, decimals);
    return std::round(v * f) / f;
}

json rate(std::int64_t part, std::int64_t whole) {
    return whole > 0 ? json(round_to(static_cast<double>(part) / static_cast<double>(whole), 4)) : json(nullptr);
}

json average(double sum, std::int64_t n, int decimals) {
    return n > 0 ? json(round_to(sum / static_cast<double>(n), decimals)) : json(nullptr);
}

// Per-unit (or per-month) running totals.
struct Tally {
    std::int64_t summons = 0;
    double score_sum = 0;
    std::int64_t rated = 0;
    double rating_sum = 0;
    std::int64_t resolved = 0;  // summons on whistles the street resolved
    std::int64_t step_counted[3] = {0, 0, 0};
    std::int64_t step_on_time[3] = {0, 0, 0};

    void add(const UnitScore& s, std::int64_t as_of) {
        ++summons;
        score_sum += s.score;
        if (s.rated) {
            ++rated;
            rating_sum += s.rating;
        }
        if (s.resolved) ++resolved;
        for (std::size_t i = 0; i < 3; ++i) {
            // A step counts once it is done or due: one still in time is neither on time nor late.
            if (!s.steps[i].done_at && s.steps[i].due >= as_of) continue;
            ++step_counted[i];
            if (s.steps[i].on_time) ++step_on_time[i];
        }
    }
    json on_time() const {
        return {{"sign", rate(step_on_time[0], step_counted[0])},
                {"contact", rate(step_on_time[1], step_counted[1])},
                {"report", rate(step_on_time[2], step_counted[2])}};
    }
};

struct WhistleCounts {
    std::int64_t total = 0, open = 0, resolved = 0, unresolved = 0, rewhistled = 0;
    void add(const Whistle& w) {
        ++total;
        switch (w.outcome) {
            case WhistleOutcome::open: ++open; break;
            case WhistleOutcome::resolved: ++resolved; break;
            case WhistleOutcome::unresolved: ++unresolved; break;
            case WhistleOutcome::rewhistled: ++rewhistled; break;
        }
    }
    json to_json() const {
        return {{"total", total},
                {"open", open},
                {"resolved", resolved},
                {"unresolved", unresolved},
                {"rewhistled", rewhistled},
                // Of the whistles the street has closed, the share it closed as resolved.
                {"resolution_rate", rate(resolved, total - open)}};
    }
};

bool in_period(const ReportPeriod& p, std::int64_t t_ms) {
    const LocalDate d = local_date(t_ms);
    return d.year == p.year && (p.month == 0 || static_cast<int>(d.month) == p.month);
}

}  // namespace

json build_report(const CommandConfig& cfg, const WorkCalendar& cal, const ReportInput& in) {
    const ReportPeriod& p = in.period;
    std::vector<const Whistle*> whistles;
    for (const auto& w : in.whistles)
        if (in_period(p, w.opened_at)) whistles.push_back(&w);
    // Input order must not matter: sort by opening time, then id.
    std::sort(whistles.begin(), whistles.end(), [](const Whistle* a, const Whistle* b) {
        return a->opened_at != b->opened_at ? a->opened_at < b->opened_at : a->id < b->id;
    });

    WhistleCounts counts;
    std::map<std::string, std::int64_t> by_tier, by_kind;
    std::map<std::string, WhistleCounts> by_street;
    std::map<std::string, Tally> by_unit;
    std::map<int, WhistleCounts> by_month;
    std::map<int, Tally> month_tally;
    Tally all;
    for (const Whistle* w : whistles) {
        counts.add(*w);
        ++by_tier[w->tier];
        ++by_kind[w->kind];
        by_street[w->street_code].add(*w);
        const int month = static_cast<int>(local_date(w->opened_at).month);
        by_month[month].add(*w);
        for (const auto& s : score_whistle(cfg.scoring, cal, *w)) {
            by_unit[s.unit].add(s, in.as_of);
            month_tally[month].add(s, in.as_of);
            all.add(s, in.as_of);
        }
    }

    json report;
    report["schema"] = "casehub.command-report/1";
    report["district"] = in.district_name;
    const unsigned last_day = p.month ? sdk::detail::days_in_month(p.year, static_cast<unsigned>(p.month)) : 31;
    report["period"] = {
        {"kind", p.month ? "month" : "year"},
        {"year", p.year},
        {"month", p.month ? json(p.month) : json(nullptr)},
        {"from", format_date({p.year, p.month ? static_cast<unsigned>(p.month) : 1u, 1})},
        {"to", format_date({p.year, p.month ? static_cast<unsigned>(p.month) : 12u, last_day})}};
    report["as_of"] = sdk::format_rfc3339_beijing(in.as_of);

    json whistle_json = counts.to_json();
    whistle_json["by_tier"] = by_tier;
    whistle_json["by_kind"] = by_kind;
    report["whistles"] = whistle_json;

    report["units"] = {{"total", cfg.units.size()},
                       {"summoned", by_unit.size()},
                       {"summons", all.summons}};
    report["on_time"] = all.on_time();
    report["ratings"] = {{"count", all.rated}, {"average", average(all.rating_sum, all.rated, 2)}};
    report["average_score"] = average(all.score_sum, all.summons, 2);

    const auto& cb = in.callbacks;
    const std::int64_t callbacks = cb.satisfied + cb.basically_satisfied + cb.dissatisfied;
    report["satisfaction"] = {{"satisfied", cb.satisfied},
                              {"basically_satisfied", cb.basically_satisfied},
                              {"dissatisfied", cb.dissatisfied},
                              {"total", callbacks},
                              // 满意率 as the district counts it: satisfied + basically satisfied.
                              {"rate", rate(cb.satisfied + cb.basically_satisfied, callbacks)}};

    json tiers = json::array();
    std::int64_t cases_solved = 0;
    for (const auto& share : tier_shares(cfg.escalation, in.cases_solved_by_tier)) {
        cases_solved += share.solved;
        tiers.push_back({{"tier", share.tier},
                         {"solved", share.solved},
                         {"share", round_to(share.share, 4)},
                         {"cumulative_share", round_to(share.cumulative_share, 4)}});
    }
    report["cases_solved"] = {{"total", cases_solved}, {"by_tier", tiers}};

    // Streets: every named street, plus any code a whistle used that the names do not know.
    std::set<std::string> street_codes;
    for (const auto& [code, name] : in.street_names) street_codes.insert(code);
    for (const auto& [code, c] : by_street) street_codes.insert(code);
    json streets = json::array();
    for (const auto& code : street_codes) {
        auto name = in.street_names.find(code);
        auto c = by_street.find(code);
        const WhistleCounts none;
        const WhistleCounts& sc = c == by_street.end() ? none : c->second;
        streets.push_back({{"code", code},
                           {"name", name == in.street_names.end() ? code : name->second},
                           {"whistles", sc.total},
                           {"resolved", sc.resolved}});
    }
    report["streets"] = streets;

    // Ranking: by average score (rounded as published, so equal printed scores share a rank),
    // then more whistles first, then code; units without a whistle follow, unranked, by code.
    struct Row {
        const Unit* unit;
        const Tally* tally;
        double score;
    };
    std::vector<Row> rows;
    for (const auto& u : cfg.units) {
        auto t = by_unit.find(u.code);
        const Tally* tally = t == by_unit.end() ? nullptr : &t->second;
        rows.push_back({&u, tally, tally ? round_to(tally->score_sum / tally->summons, 2) : -1.0});
    }
    std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
        if (a.score != b.score) return a.score > b.score;
        const auto na = a.tally ? a.tally->summons : 0, nb = b.tally ? b.tally->summons : 0;
        if (na != nb) return na > nb;
        return a.unit->code < b.unit->code;
    });
    json ranking = json::array();
    int rank = 0;
    double previous = -2;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        json row = {{"code", r.unit->code}, {"name", r.unit->name}, {"kind", r.unit->kind}};
        if (r.tally) {
            if (r.score != previous) rank = static_cast<int>(i) + 1;  // competition ranking: 1, 2, 2, 4
            previous = r.score;
            row["rank"] = rank;
            row["whistles"] = r.tally->summons;
            row["score"] = r.score;
            row["on_time"] = r.tally->on_time();
            row["average_rating"] = average(r.tally->rating_sum, r.tally->rated, 2);
            row["resolved"] = r.tally->resolved;
        } else {
            row["rank"] = nullptr;
            row["whistles"] = 0;
            row["score"] = nullptr;
            row["on_time"] = {{"sign", nullptr}, {"contact", nullptr}, {"report", nullptr}};
            row["average_rating"] = nullptr;
            row["resolved"] = 0;
        }
        ranking.push_back(std::move(row));
    }
    report["ranking"] = ranking;

    if (p.month == 0) {
        json months = json::array();
        for (int m = 1; m <= 12; ++m) {
            auto c = by_month.find(m);
            auto t = month_tally.find(m);
            const WhistleCounts none_c;
            const Tally none_t;
            const WhistleCounts& mc = c == by_month.end() ? none_c : c->second;
            const Tally& mt = t == month_tally.end() ? none_t : t->second;
            json row = mc.to_json();
            row["month"] = m;
            row["summons"] = mt.summons;
            row["average_score"] = average(mt.score_sum, mt.summons, 2);
            months.push_back(std::move(row));
        }
        report["months"] = months;
    }
    return report;
}

// ---- CSV --------------------------------------------------------------------------------------

namespace {

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

// A JSON scalar as text: numbers in their shortest form, null as empty.
std::string cell(const json& v) {
    if (v.is_null()) return "";
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
}

}  // namespace

std::string report_csv(const json& report, bool excel_bom) {
    std::string out = excel_bom ? "\xEF\xBB\xBF" : "";
    out += "rank,code,name,kind,whistles,score,sign_on_time,contact_on_time,report_on_time,average_rating,resolved\r\n";
    for (const auto& r : report.at("ranking")) {
        const auto& t = r.at("on_time");
        const std::string fields[] = {cell(r.at("rank")),     cell(r.at("code")),           cell(r.at("name")),
                                      cell(r.at("kind")),     cell(r.at("whistles")),       cell(r.at("score")),
                                      cell(t.at("sign")),     cell(t.at("contact")),        cell(t.at("report")),
                                      cell(r.at("average_rating")), cell(r.at("resolved"))};
        for (std::size_t i = 0; i < std::size(fields); ++i) {
            if (i) out += ',';
            out += csv_field(fields[i]);
        }
        out += "\r\n";
    }
    return out;
}

// ---- HTML -------------------------------------------------------------------------------------

namespace {

std::string esc(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string fixed(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string percent(const json& v) { return v.is_null() ? "—" : fixed(v.get<double>() * 100, 1) + "%"; }
std::string number(const json& v, int decimals) { return v.is_null() ? "—" : fixed(v.get<double>(), decimals); }

struct Bar {
    std::string label;
    double value = 0;
    bool missing = false;  // drawn as "—" (e.g. a unit with no whistle)
    std::string text;      // value as printed
};

// A horizontal bar chart as inline SVG; deterministic coordinates (fixed decimals).
std::string bar_chart(const std::string& title, const std::vector<Bar>& bars, double max_value) {
    const int label_w = 190, bar_w = 520, row_h = 18, top = 28;
    const int height = top + static_cast<int>(bars.size()) * row_h + 10;
    const int width = label_w + bar_w + 70;
    std::string s = "<svg role=\"img\" width=\"" + std::to_string(width) +
                    "\" height=\"" + std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " +
                    std::to_string(height) + "\" aria-label=\"" + esc(title) + "\">";
    s += "<text x=\"0\" y=\"16\" class=\"t\">" + esc(title) + "</text>";
    for (std::size_t i = 0; i < bars.size(); ++i) {
        const Bar& b = bars[i];
        const int y = top + static_cast<int>(i) * row_h;
        s += "<text x=\"" + std::to_string(label_w - 6) + "\" y=\"" + std::to_string(y + 13) +
             "\" text-anchor=\"end\">" + esc(b.label) + "</text>";
        const double w = b.missing || max_value <= 0 ? 0 : bar_w * std::clamp(b.value / max_value, 0.0, 1.0);
        s += "<rect x=\"" + std::to_string(label_w) + "\" y=\"" + std::to_string(y + 3) + "\" width=\"" +
             fixed(w, 1) + "\" height=\"" + std::to_string(row_h - 5) + "\" class=\"b\"/>";
        s += "<text x=\"" + fixed(label_w + w + 4, 1) + "\" y=\"" + std::to_string(y + 13) + "\">" +
             esc(b.missing ? "—" : b.text) + "</text>";
    }
    return s + "</svg>";
}

std::string card(const std::string& label, const std::string& value) {
    return "<div class=\"card\"><div class=\"v\">" + esc(value) + "</div><div class=\"l\">" + esc(label) + "</div></div>";
}

}  // namespace

std::string report_html(const json& r) {
    const auto& period = r.at("period");
    const bool annual = period.at("kind") == "year";
    const std::string title = r.value("district", std::string()) + " 街道吹哨·部门报到 " +
                              std::to_string(period.at("year").get<int>()) + "年" +
                              (annual ? std::string("度考核") : std::to_string(period.at("month").get<int>()) + "月考核");
    const auto& w = r.at("whistles");
    const auto& on_time = r.at("on_time");

    std::string h = "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>" + esc(title) +
                    "</title>\n<style>"
                    "body{font-family:sans-serif;margin:24px;color:#222}"
                    "h1{font-size:22px}h2{font-size:17px;margin-top:28px}"
                    ".cards{display:flex;flex-wrap:wrap;gap:10px}"
                    ".card{border:1px solid #ccc;border-radius:6px;padding:8px 14px;min-width:120px}"
                    ".card .v{font-size:20px;font-weight:bold}.card .l{font-size:12px;color:#555}"
                    "table{border-collapse:collapse;font-size:13px}"
                    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
                    "td.n,th.n{text-align:left}"
                    "svg text{font-size:12px;font-family:sans-serif}svg .t{font-size:14px;font-weight:bold}"
                    "svg .b{fill:#3a6ea5}"
                    "</style></head><body>\n";
    h += "<h1>" + esc(title) + "</h1>\n<p>" + esc(period.at("from").get<std::string>()) + " – " +
         esc(period.at("to").get<std::string>()) + " · 统计截至 " + esc(r.at("as_of").get<std::string>()) + "</p>\n";

    h += "<h2>概况</h2><div class=\"cards\">";
    h += card("吹哨次数", std::to_string(w.at("total").get<std::int64_t>()));
    h += card("报到单位", std::to_string(r.at("units").at("summoned").get<std::int64_t>()) + " / " +
                               std::to_string(r.at("units").at("total").get<std::int64_t>()));
    h += card("报到人次", std::to_string(r.at("units").at("summons").get<std::int64_t>()));
    h += card("解决率", percent(w.at("resolution_rate")));
    h += card("按时签收率", percent(on_time.at("sign")));
    h += card("按时对接率", percent(on_time.at("contact")));
    h += card("按时报到率", percent(on_time.at("report")));
    h += card("平均得分", number(r.at("average_score"), 2));
    h += card("12345回访满意率", percent(r.at("satisfaction").at("rate")));
    const auto& tiers = r.at("cases_solved").at("by_tier");
    if (!tiers.empty()) h += card("网格内解决占比", percent(tiers.at(0).at("share")));
    h += "</div>\n";

    std::vector<Bar> unit_bars;
    for (const auto& row : r.at("ranking")) {
        Bar b;
        b.label = row.at("name").get<std::string>();
        b.missing = row.at("score").is_null();
        if (!b.missing) {
            b.value = row.at("score").get<double>();
            b.text = fixed(b.value, 2);
        }
        unit_bars.push_back(std::move(b));
    }
    h += "<h2>单位得分</h2>\n" + bar_chart("单位平均得分（一哨一考核，满分100）", unit_bars, 100) + "\n";

    std::vector<Bar> street_bars;
    double most = 0;
    for (const auto& s : r.at("streets")) {
        Bar b;
        b.label = s.at("name").get<std::string>();
        b.value = static_cast<double>(s.at("whistles").get<std::int64_t>());
        b.text = std::to_string(s.at("whistles").get<std::int64_t>());
        most = std::max(most, b.value);
        street_bars.push_back(std::move(b));
    }
    h += "<h2>各街道吹哨次数</h2>\n" + bar_chart("各街道吹哨次数", street_bars, most) + "\n";

    if (annual && r.contains("months")) {
        std::vector<Bar> month_bars;
        double busiest = 0;
        for (const auto& m : r.at("months")) {
            Bar b;
            b.label = std::to_string(m.at("month").get<int>()) + "月";
            b.value = static_cast<double>(m.at("total").get<std::int64_t>());
            b.text = std::to_string(m.at("total").get<std::int64_t>()) + " · 解决率 " + percent(m.at("resolution_rate"));
            busiest = std::max(busiest, b.value);
            month_bars.push_back(std::move(b));
        }
        h += "<h2>逐月吹哨</h2>\n" + bar_chart("逐月吹哨次数", month_bars, busiest) + "\n";
    }

    h += "<h2>单位排名</h2>\n<table><tr><th>名次</th><th class=\"n\">单位</th><th>吹哨</th><th>得分</th>"
         "<th>按时签收</th><th>按时对接</th><th>按时报到</th><th>平均评价</th><th>已解决</th></tr>\n";
    for (const auto& row : r.at("ranking")) {
        const auto& t = row.at("on_time");
        h += "<tr><td>" + (row.at("rank").is_null() ? std::string("—") : std::to_string(row.at("rank").get<int>())) +
             "</td><td class=\"n\">" + esc(row.at("name").get<std::string>()) + "</td><td>" +
             std::to_string(row.at("whistles").get<std::int64_t>()) + "</td><td>" + number(row.at("score"), 2) +
             "</td><td>" + percent(t.at("sign")) + "</td><td>" + percent(t.at("contact")) + "</td><td>" +
             percent(t.at("report")) + "</td><td>" + number(row.at("average_rating"), 2) + "</td><td>" +
             std::to_string(row.at("resolved").get<std::int64_t>()) + "</td></tr>\n";
    }
    h += "</table>\n";

    h += "<h2>案件分级解决</h2>\n<table><tr><th class=\"n\">层级</th><th>解决件数</th><th>占比</th><th>累计占比</th></tr>\n";
    for (const auto& t : tiers)
        h += "<tr><td class=\"n\">" + esc(t.at("tier").get<std::string>()) + "</td><td>" +
             std::to_string(t.at("solved").get<std::int64_t>()) + "</td><td>" + percent(t.at("share")) + "</td><td>" +
             percent(t.at("cumulative_share")) + "</td></tr>\n";
    h += "</table>\n";
    const auto& sat = r.at("satisfaction");
    h += "<p>12345 回访：满意 " + std::to_string(sat.at("satisfied").get<std::int64_t>()) + "，基本满意 " +
         std::to_string(sat.at("basically_satisfied").get<std::int64_t>()) + "，不满意 " +
         std::to_string(sat.at("dissatisfied").get<std::int64_t>()) + "。</p>\n";
    h += "</body></html>\n";
    return h;
}

Result<std::map<std::string, std::string>> load_street_names(const std::filesystem::path& divisions_json) {
    std::ifstream in(divisions_json);
    if (!in) return make_error(divisions_json.string() + ": cannot open the division table");
    const auto j = json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("streets") || !j["streets"].is_array())
        return make_error(divisions_json.string() + ": no \"streets\" array");
    std::map<std::string, std::string> out;
    // Entries without a string code and name are skipped: names only label the report.
    for (const auto& s : j["streets"])
        if (s.is_object() && s.contains("code") && s["code"].is_string() && s.contains("name") && s["name"].is_string())
            out[s["code"].get<std::string>()] = s["name"].get<std::string>();
    if (out.empty()) return make_error(divisions_json.string() + ": no street");
    return out;
}

}  // namespace casehub::command
