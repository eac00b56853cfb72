#include <casehub/sdk/sha256.hpp>

#include <catch2/catch.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <cstddef>
#include <random>
#include <string>

using casehub::sdk::Sha256;
using casehub::sdk::sha256_hex;

namespace {

std::string openssl_sha256_hex(const std::string& bytes) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    REQUIRE(EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) == 1);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 0xf];
    }
    return out;
}

std::string random_bytes(std::mt19937& rng, std::size_t n) {
    std::uniform_int_distribution<int> byte(0, 255);
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(byte(rng));
    return s;
}

}  // namespace

TEST_CASE("sha256: NIST FIPS 180-4 example vectors", "[unit][sha256]") {
    CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu") ==
          "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST_CASE("sha256: one million 'a'", "[unit][sha256]") {
    const std::string million(1000000, 'a');
    const char* expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    CHECK(sha256_hex(million) == expected);
    // The same fed incrementally in uneven pieces.
    Sha256 ctx;
    std::size_t fed = 0, step = 1;
    while (fed < million.size()) {
        const std::size_t n = std::min(step, million.size() - fed);
        ctx.update(std::string_view(million).substr(fed, n));
        fed += n;
        step = step * 7 % 1021 + 1;
    }
    CHECK(ctx.hex_digest() == expected);
}

TEST_CASE("sha256: the digest resets the context for reuse", "[unit][sha256]") {
    Sha256 ctx;
    ctx.update("ab");
    ctx.update("c");
    CHECK(ctx.hex_digest() == sha256_hex("abc"));
    CHECK(ctx.hex_digest() == sha256_hex(""));
    ctx.update("abc");
    const Sha256::Digest d = ctx.digest();
    CHECK(d[0] == 0xba);
    CHECK(d[31] == 0xad);
    ctx.update(nullptr, 0);
    CHECK(ctx.hex_digest() == sha256_hex(""));
}

TEST_CASE("sha256: agrees with OpenSSL for every length 0..300", "[unit][sha256]") {
    std::mt19937 rng(12345);
    for (std::size_t n = 0; n <= 300; ++n) {
        const std::string bytes = random_bytes(rng, n);
        const std::string expected = openssl_sha256_hex(bytes);
        INFO("length " << n);
        REQUIRE(sha256_hex(bytes) == expected);
        // Split at a random point, including both ends.
        const std::size_t cut = std::uniform_int_distribution<std::size_t>(0, n)(rng);
        Sha256 ctx;
        ctx.update(bytes.data(), cut);
        ctx.update(bytes.data() + cut, n - cut);
        REQUIRE(ctx.hex_digest() == expected);
    }
}

TEST_CASE("sha256: agrees with OpenSSL on random lengths and byte-wise updates", "[unit][sha256]") {
    std::mt19937 rng(777);
    std::uniform_int_distribution<std::size_t> len(0, 300);
    for (int i = 0; i < 500; ++i) {
        const std::string bytes = random_bytes(rng, len(rng));
        const std::string expected = openssl_sha256_hex(bytes);
        REQUIRE(sha256_hex(bytes) == expected);
        Sha256 ctx;
        for (char c : bytes) ctx.update(&c, 1);
        REQUIRE(ctx.hex_digest() == expected);
    }
}
