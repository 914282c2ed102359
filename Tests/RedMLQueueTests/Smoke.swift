import Foundation
import RedML
import Testing

@Test func submitRunComplete() async throws {
    let queue = MLJobQueue(store: InMemoryMLPersistence())
    let workers = MLJobWorkers(queue: queue)
    workers.register(.train) { job in
        job.setProgress(50)
        return ["accuracy": 0.9]
    }
    let id = try await queue.submit(MLJobSubmission(kind: .train, target: "spam"))
    let running = Task { try await workers.run() }
    var final: MLJob?
    for try await update in queue.updates(of: id) { final = update }
    workers.beginShutdown()
    try await running.value
    #expect(final?.status == .completed)
    #expect(final?.metrics?["accuracy"] == 0.9)
}
