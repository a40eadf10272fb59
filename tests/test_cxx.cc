// test_cxx.cc — the C++ operator new/delete family is hakmem's and behaves
// as the standard says: plain, array, sized, aligned, nothrow; bad_alloc on
// failure, nullptr from the nothrow forms, the new_handler is called.
#include "test_common.h"

#include <cstddef>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

TC_DEFINE_SINK;

static const size_t sizes[] = { 1, 8, 16, 24, 100, 1000, 1024, 1025, 5000, 32768, 32769,
                                200000, 1048576, 1048577, 5 * 1048576 };
static const size_t n_sizes = sizeof sizes / sizeof sizes[0];

// Impossible sizes: an allocation of these can never succeed.
static const size_t huge_sizes[] = { SIZE_MAX, SIZE_MAX / 2, (size_t)PTRDIFF_MAX + 1,
                                     (size_t)PTRDIFF_MAX, (size_t)1 << 62, SIZE_MAX - 4095 };

static void test_plain_and_array(void **)
{
    for (size_t i = 0; i < n_sizes; i++) {
        size_t n = sizes[i];
        void *p = ::operator new(n);
        assert_owned(p);
        if (n >= 16)
            assert_aligned(p, __STDCPP_DEFAULT_NEW_ALIGNMENT__);
        assert_true(malloc_usable_size(p) >= n);
        fill_pattern(p, n, n);
        void *q = ::operator new[](n);
        assert_owned(q);
        fill_pattern(q, n, n + 1);
        assert_pattern(p, n, n);
        assert_pattern(q, n, n + 1);
        ::operator delete(p);
        ::operator delete[](q);

        // sized delete
        p = ::operator new(n);
        assert_owned(p);
        memset(p, 1, n);
        ::operator delete(p, n);
        q = ::operator new[](n);
        assert_owned(q);
        memset(q, 2, n);
        ::operator delete[](q, n);
    }
    // zero-size new returns distinct non-null pointers
    void *a = ::operator new(0), *b = ::operator new(0);
    assert_owned(a);
    assert_owned(b);
    assert_ptr_not_equal(a, b);
    ::operator delete(a);
    ::operator delete(b);
    // delete of nullptr does nothing
    ::operator delete(nullptr);
    ::operator delete[](nullptr);
}

static void test_new_expressions(void **)
{
    struct Obj {
        long a[7];
        std::string s;
        Obj() : s(100, 'x') { for (int i = 0; i < 7; i++) a[i] = i; }
    };
    for (int round = 0; round < 1000; round++) {
        Obj *o = new Obj;
        assert_owned(o);
        assert_owned(o->s.data());
        Obj *arr = new Obj[17];
        assert_owned(arr);
        for (int i = 0; i < 17; i++)
            assert_int_equal(arr[i].a[6], 6);
        delete o;
        delete[] arr;
        int *ip = new int[round + 1]();
        assert_owned(ip);
        for (int i = 0; i <= round; i++)
            assert_int_equal(ip[i], 0);
        delete[] ip;
    }
    struct alignas(256) Wide {
        char c[300];
    };
    for (int i = 0; i < 100; i++) {
        Wide *w = new Wide;
        assert_owned(w);
        assert_aligned(w, 256);
        memset(w->c, 3, sizeof w->c);
        Wide *wa = new Wide[5];
        assert_owned(wa);
        assert_aligned(wa, 256);
        delete w;
        delete[] wa;
    }
}

static void test_aligned(void **)
{
    for (size_t al = 1; al <= 4 * MiB; al *= 2) {
        const size_t ns[] = { 1, al, al + 1, 3 * al, 4000 };
        for (size_t k = 0; k < 5; k++) {
            size_t n = ns[k];
            std::align_val_t a{ al };
            void *p = ::operator new(n, a);
            assert_owned(p);
            assert_aligned(p, al);
            assert_true(malloc_usable_size(p) >= n);
            memset(p, 0x5C, n);
            void *q = ::operator new[](n, a);
            assert_owned(q);
            assert_aligned(q, al);
            memset(q, 0x6D, n);
            void *r = ::operator new(n, a, std::nothrow);
            assert_owned(r);
            assert_aligned(r, al);
            void *s = ::operator new[](n, a, std::nothrow);
            assert_owned(s);
            assert_aligned(s, al);
            for (size_t i = 0; i < n; i++)
                if (((unsigned char *)p)[i] != 0x5C)
                    fail_msg("aligned new(%zu, %zu) block changed at %zu", n, al, i);
            if (k % 2) {
                ::operator delete(p, a);
                ::operator delete[](q, a);
            } else {
                ::operator delete(p, n, a);
                ::operator delete[](q, n, a);
            }
            ::operator delete(r, a, std::nothrow);
            ::operator delete[](s, a, std::nothrow);
        }
    }
}

static void test_nothrow(void **)
{
    for (size_t i = 0; i < n_sizes; i++) {
        void *p = ::operator new(sizes[i], std::nothrow);
        assert_owned(p);
        memset(p, 9, sizes[i]);
        void *q = ::operator new[](sizes[i], std::nothrow);
        assert_owned(q);
        memset(q, 9, sizes[i]);
        ::operator delete(p, std::nothrow);
        ::operator delete[](q, std::nothrow);
    }
    for (size_t n : huge_sizes) {
        size_t m = opaque_size(n);
        void *p = ::operator new(m, std::nothrow);
        if (p)
            fail_msg("operator new(%zu, nothrow) returned %p; want nullptr", m, p);
        p = ::operator new[](m, std::nothrow);
        if (p)
            fail_msg("operator new[](%zu, nothrow) returned %p; want nullptr", m, p);
        p = ::operator new(m, std::align_val_t{ 64 }, std::nothrow);
        if (p)
            fail_msg("operator new(%zu, align 64, nothrow) returned %p; want nullptr", m, p);
        p = ::operator new[](m, std::align_val_t{ 4096 }, std::nothrow);
        if (p)
            fail_msg("operator new[](%zu, align 4096, nothrow) returned %p; want nullptr", m, p);
    }
}

static void test_bad_alloc(void **)
{
    for (size_t n : huge_sizes) {
        size_t m = opaque_size(n);
        int caught = 0;
        try {
            tc_sink = ::operator new(m);
        } catch (const std::bad_alloc &) {
            caught++;
        }
        try {
            tc_sink = ::operator new[](m);
        } catch (const std::bad_alloc &) {
            caught++;
        }
        try {
            tc_sink = ::operator new(m, std::align_val_t{ 128 });
        } catch (const std::bad_alloc &) {
            caught++;
        }
        try {
            tc_sink = ::operator new[](m, std::align_val_t{ 2 * MiB });
        } catch (const std::bad_alloc &) {
            caught++;
        }
        if (caught != 4)
            fail_msg("new of %zu bytes: only %d of the 4 forms threw std::bad_alloc", m, caught);
    }
    // a new-expression with an impossible element count
    size_t count = opaque_size(SIZE_MAX / 16);
    bool caught = false;
    try {
        tc_sink = new double[count];
    } catch (const std::bad_alloc &) {
        caught = true;
    }
    assert_true(caught);
    // and allocation still works afterwards
    std::vector<int> v(1000, 7);
    assert_owned(v.data());
}

static int handler_calls;
static void counting_handler()
{
    handler_calls++;
    std::set_new_handler(nullptr); // next failure throws
}

static void test_new_handler(void **)
{
    handler_calls = 0;
    std::set_new_handler(counting_handler);
    bool caught = false;
    try {
        tc_sink = ::operator new(opaque_size((size_t)1 << 62));
    } catch (const std::bad_alloc &) {
        caught = true;
    }
    std::set_new_handler(nullptr);
    assert_true(caught);
    if (handler_calls != 1)
        fail_msg("operator new failure called the new_handler %d times; want 1", handler_calls);

    handler_calls = 0;
    std::set_new_handler(counting_handler);
    void *p = ::operator new(opaque_size((size_t)1 << 62), std::nothrow);
    std::set_new_handler(nullptr);
    assert_null(p);
    if (handler_calls != 1)
        fail_msg("nothrow operator new failure called the new_handler %d times; want 1",
                 handler_calls);
}

static void test_containers(void **)
{
    std::map<int, std::string> m;
    std::unordered_map<std::string, std::vector<int>> u;
    for (int i = 0; i < 50000; i++) {
        m[i * 7 % 50021] = std::string(i % 300, (char)('a' + i % 26));
        u[std::to_string(i)].push_back(i);
    }
    unsigned long sum = 0;
    for (auto &kv : m)
        sum += kv.first + kv.second.size();
    for (auto &kv : u)
        sum += kv.second[0];
    unsigned long want = 0;
    for (int i = 0; i < 50000; i++)
        want += (unsigned long)(i * 7 % 50021) + (unsigned long)(i % 300) + (unsigned long)i;
    assert_int_equal(sum, want);
    assert_owned(u.begin()->second.data());
    auto sp = std::make_shared<std::vector<char>>(3 * MiB, 'z');
    assert_owned(sp->data());
    assert_owned(sp.get());
}

int main()
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_array), cmocka_unit_test(test_new_expressions),
        cmocka_unit_test(test_aligned),         cmocka_unit_test(test_nothrow),
        cmocka_unit_test(test_bad_alloc),       cmocka_unit_test(test_new_handler),
        cmocka_unit_test(test_containers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
