import RedML
import Testing

/// The seed's key tests, and the edges of the key formats.
@Suite("Seed keys")
struct SeedKeyTests {
    @Test func jobKeyRoundTrips() {
        let id: UInt128 = 0x0123_4567_89ab_cdef_0123_4567_89ab_cdef
        let raw = MLKey.job(id)
        #expect(raw == "0123456789abcdef0123456789abcdef")
        #expect(raw.utf8.count == 32)
        #expect(MLKey.parseJob(raw) == id)
    }

    @Test func jobKeyIsZeroPaddedLowercase() {
        #expect(MLKey.job(1) == String(repeating: "0", count: 31) + "1")
        #expect(MLKey.job(0) == String(repeating: "0", count: 32))
        #expect(MLKey.job(0xABCDEF) == String(repeating: "0", count: 26) + "abcdef")
        #expect(MLKey.job(.max) == String(repeating: "f", count: 32))
        #expect(MLKey.parseJob(MLKey.job(.max)) == .max)
        #expect(MLKey.parseJob(MLKey.job(0)) == 0)
    }

    @Test("a job key writes the high 64 bits first, as the generic hex formatting does")
    func jobKeyMatchesGenericFormatting() {
        #expect(MLKey.job(0xfedc_ba98_7654_3210_0123_4567_89ab_cdef) == "fedcba98765432100123456789abcdef")
        var random = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let id = UInt128(random.next() as UInt64) << 64 | UInt128(random.next() as UInt64)
            let generic = String(id, radix: 16)
            #expect(MLKey.job(id) == String(repeating: "0", count: 32 - generic.count) + generic)
        }
    }

    @Test func jobKeysSortInIdOrder() {
        let ids: [UInt128] = [0, 1, 9, 10, 15, 16, 255, 256, 1 << 64, .max]
        let keys = ids.map(MLKey.job)
        #expect(keys == keys.sorted())
    }

    @Test(arguments: ["abc", String(repeating: "0", count: 31), String(repeating: "0", count: 33), ""])
    func jobKeyRejectsWrongLength(_ raw: String) {
        #expect(MLKey.parseJob(raw) == nil)
    }

    @Test(arguments: [
        "+" + String(repeating: "0", count: 31),
        "-" + String(repeating: "0", count: 31),
        String(repeating: "0", count: 31) + "g",
        String(repeating: "0", count: 31) + " ",
        "0x" + String(repeating: "0", count: 30),
        String(repeating: "0", count: 30) + "é",
        String(repeating: "0", count: 31) + "\u{FF10}",
    ])
    func jobKeyRejectsNonHex(_ raw: String) {
        #expect(MLKey.parseJob(raw) == nil)
    }

    @Test func jobKeyAcceptsUppercaseHex() {
        #expect(MLKey.parseJob("0123456789ABCDEF0123456789ABCDEF") == 0x0123_4567_89ab_cdef_0123_4567_89ab_cdef)
        #expect(MLKey.parseJob(String(repeating: "F", count: 32)) == .max)
    }

    @Test func modelKeyIsTheName() {
        #expect(MLKey.model("spam_classifier") == "spam_classifier")
    }

    @Test func modelVersionKeyRoundTrips() throws {
        let raw = MLKey.modelVersion("spam_classifier", 42)
        #expect(raw == "spam_classifier@v42")
        let parsed = try #require(MLKey.parseModelVersion(raw))
        #expect(parsed.model == "spam_classifier")
        #expect(parsed.version == 42)
    }

    @Test func modelVersionKeySurvivesAtInName() throws {
        let parsed = try #require(MLKey.parseModelVersion("weird@name@v7"))
        #expect(parsed.model == "weird@name")
        #expect(parsed.version == 7)
    }

    @Test(arguments: [
        "spam@vfoo", "spam@v", "m@v4294967296", "spam", "spam@7", "@", "spam@v-1", "spam@v 1", "spam@v7x",
    ])
    func modelVersionKeyRejects(_ raw: String) {
        #expect(MLKey.parseModelVersion(raw) == nil)
    }

    @Test func modelVersionKeyEdges() throws {
        let max = try #require(MLKey.parseModelVersion(MLKey.modelVersion("m", .max)))
        #expect(max.model == "m" && max.version == UInt32.max)
        #expect(MLKey.modelVersion("m", .max) == "m@v4294967295")
        let zero = try #require(MLKey.parseModelVersion("m@v0"))
        #expect(zero.model == "m" && zero.version == 0)
        let unnamed = try #require(MLKey.parseModelVersion("@v3"))
        #expect(unnamed.model == "" && unnamed.version == 3)
        let unicode = try #require(MLKey.parseModelVersion(MLKey.modelVersion("分類器@v2", 5)))
        #expect(unicode.model == "分類器@v2" && unicode.version == 5)
    }

    @Test func namespaceConstants() {
        #expect(MLNamespace.models == "models")
        #expect(MLNamespace.modelVersions == "model_versions")
        #expect(MLNamespace.jobs == "jobs")
    }
}
