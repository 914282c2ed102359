import Foundation
import Hummingbird
import Synchronization

/// A request body as the `Data` chunks the registry streams into the blob
/// store, refusing an empty body and more than `limit` bytes.
///
/// The registry reports a failing sequence as its own persistence error, so
/// why the upload stopped is also kept in ``monitor`` for the route to answer with.
struct WeightsUpload: AsyncSequence, Sendable {
    typealias Element = Data

    let body: RequestBody
    let limit: Int
    let monitor: UploadMonitor

    /// The answer to an upload without a byte.
    static let emptyUpload = MLHTTPError.badRequest(
        "the weights upload is empty; send the model's weights as the request body", code: "empty_weights")

    func makeAsyncIterator() -> Iterator {
        Iterator(base: body.makeAsyncIterator(), limit: limit, monitor: monitor)
    }

    struct Iterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        let limit: Int
        let monitor: UploadMonitor
        var received = 0

        mutating func next() async throws -> Data? {
            let buffer: ByteBuffer?
            do {
                buffer = try await base.next()
            } catch {
                monitor.fail(MLHTTPError(.badRequest, code: "upload_interrupted",
                                         message: "the weights upload stopped before its end: \(error)"))
                throw error
            }
            guard let buffer else {
                // No body at all is a client's mistake (a file that was not attached), not a
                // model: registering it would make an empty version the active one.
                guard received > 0 else {
                    monitor.fail(WeightsUpload.emptyUpload)
                    throw WeightsUpload.emptyUpload
                }
                return nil
            }
            received += buffer.readableBytes
            guard received <= limit else {
                let error = MLHTTPError.tooLarge("the weights upload", limit: limit)
                monitor.fail(error)
                throw error
            }
            return Data(buffer.readableBytesView)
        }
    }
}

/// Why a weights upload stopped, if it stopped on the request's side.
final class UploadMonitor: Sendable {
    private let failure = Mutex<MLHTTPError?>(nil)

    func fail(_ error: MLHTTPError) {
        failure.withLock { $0 = $0 ?? error }
    }

    var error: MLHTTPError? { failure.withLock { $0 } }
}
