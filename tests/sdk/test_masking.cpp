// casehub::sdk::mask (case-model.md §2.3). Every example of the §2.3 table verbatim, the free
// text candidate rules, and a cross-check against the hub validator's §2.5 predicates.
#include <casehub/sdk/masking.hpp>
#include <casehub/sdk/record_check.hpp>

#include <catch2/catch.hpp>

#include <optional>
#include <string>

namespace mask = casehub::sdk::mask;
using casehub::sdk::id_is_unmasked;
using casehub::sdk::name_is_unmasked;
using casehub::sdk::phone_is_unmasked;

namespace {

// Masks `raw` as a phone and checks the result passes the hub's §2.5 phone rule.
std::optional<std::string> P(std::string_view raw, std::string* w = nullptr) {
    auto r = mask::phone(raw, w);
    if (r) {
        INFO("phone output " << *r);
        CHECK_FALSE(phone_is_unmasked(*r));
        CHECK(casehub::sdk::is_valid_utf8(*r));
    }
    return r;
}

std::optional<std::string> ID(std::string_view raw, std::string* w = nullptr) {
    auto r = mask::resident_id(raw, w);
    if (r) {
        INFO("id output " << *r);
        CHECK_FALSE(id_is_unmasked(*r));
        CHECK(casehub::sdk::is_valid_utf8(*r));
    }
    return r;
}

std::optional<std::string> N(std::string_view raw) {
    auto r = mask::name(raw);
    if (r) {
        INFO("name output " << *r);
        CHECK_FALSE(name_is_unmasked(*r));
        CHECK(casehub::sdk::is_valid_utf8(*r));
    }
    return r;
}

std::string T(std::string_view text) {
    std::string r = mask::free_text(text);
    CHECK(casehub::sdk::is_valid_utf8(r) == casehub::sdk::is_valid_utf8(text));
    return r;
}

}  // namespace

TEST_CASE("mask §2.3 table examples verbatim", "[unit][masking]") {
    CHECK(P("13851234567") == "138****4567");
    CHECK(P("02584512345") == "0258*****45");
    CHECK(P("96110") == "*****");
    CHECK(ID("320104198807121234") == "320104********1234");
    CHECK(ID("320104880712123") == "320104*****2123");
    CHECK(ID("E12345678") == "*******78");
    CHECK(N("王芳") == "王*");
    CHECK(N("欧阳明辉") == "欧***");
    CHECK(N("张先生") == "张**");
    CHECK(P("13851234567/025-84512345") == "138****4567,0258*****45");
    for (const char* v : {"匿名", "保密", "无", "无名氏", "不详", "未知", ""}) {
        INFO(v);
        CHECK_FALSE(P(v).has_value());
        CHECK_FALSE(ID(v).has_value());
        CHECK_FALSE(N(v).has_value());
    }
    std::string w;
    CHECK_FALSE(ID("3.20104E+17", &w).has_value());
    CHECK_FALSE(w.empty());
    w.clear();
    CHECK_FALSE(P("138abc45678", &w).has_value());
    CHECK_FALSE(w.empty());
}

TEST_CASE("mask phone: prefixes and separators are removed", "[unit][masking][phone]") {
    CHECK(P("+8613851234567") == "138****4567");
    CHECK(P("+86 138 5123 4567") == "138****4567");
    CHECK(P("8613851234567") == "138****4567");
    CHECK(P("86 13851234567") == "138****4567");
    CHECK(P("008613851234567") == "138****4567");
    CHECK(P("0086-138-5123-4567") == "138****4567");
    CHECK(P("138-5123-4567") == "138****4567");
    CHECK(P("  13851234567  ") == "138****4567");
    CHECK(P("025-8451 2345") == "0258*****45");
    CHECK(P("(025)84512345") == "0258*****45");
    CHECK(P("+86 25 8451 2345") == "2584****45");  // international form without trunk 0
    CHECK(P("１３８５１２３４５６７") == "138****4567");  // full-width digits
    CHECK(P("＋８６ １３８５１２３４５６７") == "138****4567");
}

TEST_CASE("mask phone: lengths of other numbers", "[unit][masking][phone]") {
    CHECK(P("84512345") == "8451**45");      // 8 digits, local fixed line
    CHECK(P("1234567") == "1234*67");        // 7 digits: one hidden
    CHECK(P("025845123456") == "0258******56");  // 12 digits
    CHECK(P("123456") == "******");          // shorter than 7: all '*'
    CHECK(P("110") == "***");
    CHECK(P("12345") == "*****");
    CHECK(P("23851234567") == "2385*****67");  // 11 digits not starting with 1
}

TEST_CASE("mask phone: several numbers in one field", "[unit][masking][phone]") {
    CHECK(P("13851234567,13912345678") == "138****4567,139****5678");
    CHECK(P("13851234567，02584512345") == "138****4567,0258*****45");
    CHECK(P("13851234567;02584512345") == "138****4567,0258*****45");
    CHECK(P("13851234567；02584512345") == "138****4567,0258*****45");
    CHECK(P("13851234567、96110") == "138****4567,*****");
    CHECK(P("13851234567 02584512345") == "138****4567,0258*****45");
    CHECK(P("13851234567  13912345678") == "138****4567,139****5678");
    CHECK(P("96110 13851234567") == "*****,138****4567");
    CHECK(P("025 84512345 / 138 5123 4567") == "0258*****45,138****4567");
    CHECK(P("13851234567/") == "138****4567");
    CHECK(P("13851234567/无") == "138****4567");
}

TEST_CASE("mask phone: unreadable values give nullopt with a warning", "[unit][masking][phone]") {
    for (const char* v : {"138abc45678", "1.3851234567E+10", "tel 13851234567", "+1 2025550100",
                          "1385123456789012", "--", "(025", "13851234567/abc"}) {
        INFO(v);
        std::string w;
        CHECK_FALSE(P(v, &w).has_value());
        CHECK_FALSE(w.empty());
        CHECK(w.rfind("phone:", 0) == 0);
        CHECK(w.find("138") == std::string::npos);  // never repeats the value
    }
    CHECK_FALSE(P("abc").has_value());  // warning pointer may be null
    std::string w;
    CHECK_FALSE(P("不详", &w).has_value());
    CHECK(w.empty());  // not-personal values are not a problem
}

TEST_CASE("mask resident_id: IDs and other documents", "[unit][masking][id]") {
    CHECK(ID("32010419880712123X") == "320104********123X");
    CHECK(ID("32010419880712123x") == "320104********123X");
    CHECK(ID(" 320104198807121234 ") == "320104********1234");
    CHECK(ID("３２０１０４１９８８０７１２１２３Ｘ") == "320104********123X");
    CHECK(ID("G12345678") == "*******78");
    CHECK(ID("H1234567890") == "*********90");
    CHECK(ID("91320100MA1XXXXX1P") == "****************1P");
    CHECK(ID("3201041988071212") == "**************12");  // 16 digits: not a resident ID
    CHECK(ID("护照E1234") == "*****34");
    std::string w;
    CHECK_FALSE(ID("3.20104E+17", &w).has_value());
    CHECK(w.rfind("id:", 0) == 0);
    for (const char* v : {"320104198807121234.0", "3.20104e17", "1E+17"}) {
        INFO(v);
        w.clear();
        CHECK_FALSE(ID(v, &w).has_value());
        CHECK_FALSE(w.empty());
    }
    w.clear();
    CHECK_FALSE(ID("X", &w).has_value());
    CHECK_FALSE(w.empty());
    w.clear();
    CHECK_FALSE(ID("保密", &w).has_value());
    CHECK(w.empty());
}

TEST_CASE("mask name: code points, not bytes", "[unit][masking][name]") {
    CHECK(N("芳") == "*");
    CHECK(N("A") == "*");
    CHECK(N("Li") == "L*");
    CHECK(N(" 王芳 ") == "王*");
    CHECK(N("　王芳　") == "王*");  // U+3000 trimmed
    CHECK(N("王 芳") == "王**");
    CHECK(N("𠀀芳") == "𠀀*");  // 4-byte code point kept whole
    CHECK(N("阿卜杜·热合曼") == "阿******");
    CHECK(N("\xff\xfe") == "\xef\xbf\xbd*");  // invalid UTF-8 never copied through
}

TEST_CASE("mask free_text: phones in text", "[unit][masking][text]") {
    CHECK(T("市民来电13851234567反映") == "市民来电138****4567反映");
    CHECK(T("电话：13851234567。") == "电话：138****4567。");
    CHECK(T("（13851234567）") == "（138****4567）");
    CHECK(T("联系人王先生，电话13851234567，地址") == "联系人王先生，电话138****4567，地址");
    CHECK(T("电话138-5123-4567") == "电话138****4567");
    CHECK(T("电话138 5123 4567谢谢") == "电话138****4567谢谢");
    CHECK(T("电话+86 138 5123 4567") == "电话138****4567");
    CHECK(T("电话+8613851234567") == "电话138****4567");
    CHECK(T("电话8613851234567") == "电话138****4567");
    CHECK(T("电话0086-13851234567") == "电话138****4567");
    CHECK(T("座机02584512345") == "座机0258*****45");
    CHECK(T("座机025-84512345") == "座机0258*****45");
    CHECK(T("座机(025)84512345") == "座机0258*****45");
    CHECK(T("座机(025) 8451-2345") == "座机0258*****45");
    CHECK(T("座机（025）84512345") == "座机0258*****45");
    CHECK(T("座机0512-6812345") == "座机0512*****45");  // 11 digits fixed line
    CHECK(T("13851234567") == "138****4567");
    CHECK(T("a13851234567b") == "a138****4567b");
    CHECK(T("call 13851234567 or 13912345678.") == "call 138****4567 or 139****5678.");
    CHECK(T("电话13851234567 02584512345") == "电话138****4567 0258*****45");
    CHECK(T("电话13851234567/13912345678") == "电话138****4567/139****5678");
}

TEST_CASE("mask free_text: numbers that are not phones or IDs stay", "[unit][masking][text]") {
    CHECK(T("订单号1385123456789") == "订单号1385123456789");        // 13-digit run
    CHECK(T("编号20260309138512345678") == "编号20260309138512345678");  // 22-digit run
    CHECK(T("金额13851234567.50元") == "金额13851234567.50元");      // amount
    CHECK(T("金额0.13851234567") == "金额0.13851234567");
    CHECK(T("96110") == "96110");                                    // short numbers in text
    CHECK(T("12345热线") == "12345热线");
    CHECK(T("84512345") == "84512345");                              // 8 digits, no area code
    CHECK(T("23851234567") == "23851234567");                        // 11 digits not starting 1
    CHECK(T("2026-03-09 09:12") == "2026-03-09 09:12");
    CHECK(T("138  5123  4567") == "138  5123  4567");                // double spaces break a run
    CHECK(T("") == "");
    CHECK(T("没有号码的文本") == "没有号码的文本");
    CHECK(T("１３８５１２３４５６７") == "138****4567");            // full-width digits are masked
}

TEST_CASE("mask free_text: resident IDs in text", "[unit][masking][text]") {
    CHECK(T("身份证号320104198807121234，") == "身份证号320104********1234，");
    CHECK(T("身份证32010419880712123X号") == "身份证320104********123X号");
    CHECK(T("身份证32010419880712123x") == "身份证320104********123X");
    CHECK(T("旧证320104880712123。") == "旧证320104*****2123。");
    CHECK(T("3201041988071212345") == "3201041988071212345");  // 19 digits: longer run
    CHECK(T("32010419880712123") == "32010419880712123");      // 17 digits without X
    CHECK(T("320104198807121234 13851234567") == "320104********1234 138****4567");
    CHECK(T("编号 138512345678901") == "编号 138512*****8901");  // any 15-digit run is an ID candidate
}

TEST_CASE("mask free_text: UTF-8 is preserved around numbers", "[unit][masking][text]") {
    const std::string in = "𠀀13851234567😀，\xff" "13851234567";
    CHECK(mask::free_text(in) == "𠀀138****4567😀，\xff" "138****4567");
    CHECK(T("、13851234567、") == "、138****4567、");
    CHECK(T("“13851234567”") == "“138****4567”");
}

TEST_CASE("mask outputs satisfy the hub validator", "[unit][masking][validator]") {
    // Every output of the field functions is already checked in P, ID and N. Here: worst cases.
    CHECK_FALSE(phone_is_unmasked(*mask::phone("025845123456")));
    CHECK_FALSE(phone_is_unmasked(*mask::phone("13851234567 13912345678 02584512345")));
    CHECK_FALSE(id_is_unmasked(*mask::resident_id("320104198807121234")));
    CHECK_FALSE(id_is_unmasked(*mask::resident_id("12345678901234567890123")));
    CHECK_FALSE(name_is_unmasked(*mask::name("欧阳明辉")));
    CHECK_FALSE(name_is_unmasked(*mask::name("王")));
    // Free text: no 7-digit phone-like run remains where a phone was.
    CHECK_FALSE(phone_is_unmasked(mask::free_text("电话138-5123-4567，座机(025)8451 2345")));
}
