import Synchronization

/// The in-memory store's state behind its lock.
///
/// The state lives in a heap box that the `Mutex` guards, rather than inline in
/// the `Mutex`: with the state stored inline, release builds corrupted the heap
/// once the state grew a few more fields (seen with Swift 6.3.1 on Linux).
final class LockedState: Sendable {
    private final class Box {
        // The mutex already makes every access exclusive; a dynamic check per call costs more than a lookup's hashing.
        @exclusivity(unchecked) var state = InMemoryState()
    }

    private let mutex = Mutex(Box())

    /// Runs `body` with exclusive access to the state. Never call it across an `await`.
    func withLock<R: Sendable, E: Error>(_ body: (inout InMemoryState) throws(E) -> R) throws(E) -> R {
        try mutex.withLock { (box: inout Box) throws(E) -> R in try body(&box.state) }
    }
}
