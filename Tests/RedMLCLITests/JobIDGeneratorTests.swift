import Foundation
import RedML
import Testing

@testable import RedMLCLI

@Suite("MLJobIDGenerator")
struct JobIDGeneratorTests {
    @Test("ids carry their millisecond timestamp and the UUIDv7 version and variant")
    func layout() {
        var generator = MLJobIDGenerator()
        let date = Date(timeIntervalSince1970: 1_795_000_000.123)
        let id = generator.next(at: date)
        #expect(MLJobIDGenerator.milliseconds(of: id) == 1_795_000_000_123)
        #expect((id >> 76) & 0xF == 7)
        #expect((id >> 62) & 0b11 == 0b10)
    }

    @Test("ids strictly increase, even when the clock stands still or steps back")
    func monotonic() {
        var generator = MLJobIDGenerator()
        let now = Date()
        var last = generator.next(at: now)
        for step in 0..<1000 {
            let date = step % 3 == 0 ? now.addingTimeInterval(-1) : now
            let id = generator.next(at: date)
            #expect(id > last)
            #expect((id >> 76) & 0xF == 7)
            #expect((id >> 62) & 0b11 == 0b10)
            last = id
        }
    }
}
