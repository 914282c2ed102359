// A child process for RedML's crash and multi-process tests. Tests start it,
// read what it acknowledges on stdout, and kill it with SIGKILL.
//
//   RedMLTestAgent put-loop PATH PREFIX COUNT       one put per step, "ack I" after each
//   RedMLTestAgent batch-loop PATH PREFIX COUNT     two namespaces per atomic batch, "ack I"
//   RedMLTestAgent cas-increment PATH KEY COUNT     COUNT compare-and-swap increments, "done"
//   RedMLTestAgent open PATH                        open (migrating) and print "opened"
//   RedMLTestAgent open-at PATH EPOCH_MS            sleep until EPOCH_MS (wall clock), then like open
//   RedMLTestAgent blob-upload PATH CHUNKS          stage CHUNKS deterministic 1 MiB chunks, "chunk I"
//                                                   after each, then commit the blob, "committed SHA"
//   RedMLTestAgent durable-put-loop PATH DURABILITY COUNT
//                                                   like put-loop (prefix "d"), on a store opened with
//                                                   DURABILITY "power-loss" or "process-crash"
//   RedMLTestAgent register-loop PATH MODEL COUNT AGENT
//                                                   register COUNT versions of MODEL through the
//                                                   registry, "version N" after each
//   RedMLTestAgent queue-submit PATH COUNT         submit COUNT jobs of kind "crash" (spec {"n": I,
//                                                   "steps": 5}) through MLJobQueue, then "submitted N"
//   RedMLTestAgent queue-work PATH WORKERS HEARTBEAT_MS
//                                                   run MLJobWorkers (poll 20 ms) on the file: each "crash"
//                                                   job does `steps` 2 ms steps with a checkpoint after each;
//                                                   prints "start KEY attempt A from STEP", "checkpoint KEY
//                                                   STEP" and "done KEY"; once no job is queued or running,
//                                                   "idle" and exit 0
import Foundation
import RedML

func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("RedMLTestAgent: \(message)\n".utf8))
    exit(1)
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 2 else { fail("usage: RedMLTestAgent MODE PATH [ARGS...]") }
let mode = arguments[0]
let path = arguments[1]

// Modes added for later tests run here and exit; the original modes below are unchanged.
if let extra = ExtraMode(rawValue: mode) {
    do {
        try await extra.run(path: path, arguments: Array(arguments.dropFirst(2)))
        exit(0)
    } catch {
        fail("\(error)")
    }
}

// The job queue's modes (QueueModes.swift).
if let queueMode = QueueMode(rawValue: mode) {
    do {
        try await queueMode.run(path: path, arguments: Array(arguments.dropFirst(2)))
        exit(0)
    } catch {
        fail("\(error)")
    }
}

do {
    let store = try SQLiteMLPersistence(path: path)
    switch mode {
    case "open":
        say("opened")
    case "put-loop":
        guard arguments.count == 4, let count = Int(arguments[3]) else { fail("put-loop PATH PREFIX COUNT") }
        for i in 0..<count {
            try await store.put(namespace: "crash", key: "\(arguments[2])-\(i)", value: #"{"i":\#(i)}"#)
            say("ack \(i)")
        }
    case "batch-loop":
        guard arguments.count == 4, let count = Int(arguments[3]) else { fail("batch-loop PATH PREFIX COUNT") }
        for i in 0..<count {
            var batch = MLBatch()
            batch.put(namespace: "left", key: "\(arguments[2])-\(i)", value: #"{"i":\#(i)}"#, if: .absent)
            batch.put(namespace: "right", key: "\(arguments[2])-\(i)", value: #"{"i":\#(i)}"#, if: .absent)
            try await store.commit(batch)
            say("ack \(i)")
        }
    case "cas-increment":
        guard arguments.count == 4, let count = Int(arguments[3]) else { fail("cas-increment PATH KEY COUNT") }
        var conflicts = 0
        for _ in 0..<count {
            while true {
                let current = try await store.entry(namespace: "counters", key: arguments[2])
                let value = current.flatMap { Int($0.value) } ?? 0
                var batch = MLBatch()
                batch.put(
                    namespace: "counters", key: arguments[2], value: "\(value + 1)",
                    if: current.map { .revision($0.revision) } ?? .absent)
                do {
                    try await store.commit(batch)
                    break
                } catch let error as MLPersistenceError where error.code == "conflict" {
                    conflicts += 1
                }
            }
        }
        say("done \(conflicts)")
    default:
        fail("unknown mode \(mode)")
    }
} catch {
    fail("\(error)")
}
