// bench_program — a program-like workload: what a C++ service or compiler
// pass does to the allocator through the standard containers. Keys are
// std::strings (heap-allocated: longer than the small-string buffer), values
// are std::vectors that grow by push_back, the index is a std::map (one node
// per entry), and the whole index is periodically torn down and rebuilt.
//
//   bench_program OPS KEYS SEED
//   bench_program --smoke
//
// Per op, a draw picks key k < KEYS and an action:
//   50%  append: index[key(k)].push_back(value(k, len)); a vector that
//        reaches 64 elements is released (clear + shrink_to_fit);
//   25%  erase:  index.erase(key(k));
//   25%  lookup: find key(k) and verify every element of its vector.
// Every OPS/4 ops the index is verified completely and destroyed.
// ops counts these operations (not allocator calls: the containers decide
// those); check is a checksum that is the same under every allocator.
#include <cinttypes>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bench_common.h"

namespace {

const char usage[] = "bench_program OPS KEYS SEED | --smoke";

// A key of 24..87 characters, so it never fits in the small-string buffer.
std::string make_key(uint64_t k)
{
    std::string s = "session/" + std::to_string(k * 2654435761u % 1000000007u) + "/";
    size_t pad = 16 + (size_t)(k % 64);
    s.append(pad, (char)('a' + k % 26));
    return s;
}

uint32_t value(uint64_t k, size_t i)
{
    return (uint32_t)(k * 40503u + i * 2246822519u);
}

void verify(uint64_t k, const std::vector<uint32_t> &v)
{
    for (size_t i = 0; i < v.size(); i++)
        if (v[i] != value(k, i))
            bench_fail("vector of key %" PRIu64 " element %zu corrupted", k, i);
}

// The entry remembers its key number so the full check can rebuild the
// expected key string and vector without parsing.
struct entry {
    uint64_t k;
    std::vector<uint32_t> v;
};

} // namespace

int main(int argc, char **argv)
{
    bench_set_name("program");
    int smoke = bench_is_smoke(argc, argv);
    if (!smoke && argc != 4)
        bench_usage(usage);
    uint64_t ops = smoke ? 100000 : bench_arg(argc, argv, 1, 0, 4, UINT64_MAX / 2, usage);
    uint64_t keys = smoke ? 5000 : bench_arg(argc, argv, 2, 0, 1, 1ull << 32, usage);
    uint64_t seed = smoke ? 1 : bench_arg(argc, argv, 3, 0, 0, UINT64_MAX, usage);

    uint64_t rng = seed, check = 0;
    uint64_t phase = ops / 4;
    double t0 = bench_now();
    {
        std::map<std::string, entry> index;
        for (uint64_t op = 0; op < ops; op++) {
            uint64_t r = bench_rand64(&rng);
            uint64_t k = (r >> 8) % keys;
            unsigned action = (unsigned)(r & 3);
            std::string key = make_key(k);
            if (action <= 1) {
                entry &e = index[key];
                e.k = k;
                e.v.push_back(value(k, e.v.size()));
                if (e.v.size() == 64) {
                    check += 64;
                    e.v.clear();
                    e.v.shrink_to_fit();
                }
            } else if (action == 2) {
                check += index.erase(key);
            } else {
                auto it = index.find(key);
                if (it != index.end()) {
                    if (it->second.k != k)
                        bench_fail("map returned the entry of key %" PRIu64 " for %" PRIu64,
                                   it->second.k, k);
                    verify(k, it->second.v);
                    check += it->second.v.size();
                }
            }
            if ((op + 1) % phase == 0) {
                for (const auto &kv : index) {
                    if (kv.first != make_key(kv.second.k))
                        bench_fail("key string of %" PRIu64 " corrupted", kv.second.k);
                    verify(kv.second.k, kv.second.v);
                }
                check += index.size();
                index.clear();
            }
        }
    }
    double secs = bench_now() - t0;
    bench_report(ops, secs, -1,
                 "keys=%" PRIu64 " seed=%" PRIu64 " check=%" PRIu64, keys, seed, check);
    return 0;
}
