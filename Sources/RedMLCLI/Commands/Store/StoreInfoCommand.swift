import ArgumentParser
import RedML

/// `redml store info`: what and where a store is, and what it holds.
struct StoreInfoCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print a store's path, schema version, size and entry and blob counts."
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    private struct Result: Encodable {
        var store: String
        var backend: String
        var schemaVersion: Int?
        var diskBytes: Int64?
        var contents: StoreStatistics

        enum CodingKeys: String, CodingKey {
            case store, backend, contents
            case schemaVersion = "schema_version"
            case diskBytes = "disk_bytes"
        }
    }

    /// Counts and prints.
    func run() async throws {
        let result = try await options.withStore(create: false) { opened in
            Result(
                store: opened.location.description, backend: opened.location.backendName,
                schemaVersion: opened.schemaVersion,
                diskBytes: opened.sqlite.map { FilePaths.size(of: $0.path) + FilePaths.size(of: $0.path + "-wal") },
                contents: try await StoreStatistics.count(opened.store))
        }
        if options.json {
            try Console.json(result)
            return
        }
        Console.line("store           \(result.store)")
        Console.line("backend         \(result.backend)" + (result.schemaVersion.map { ", schema \($0)" } ?? ""))
        if let diskBytes = result.diskBytes {
            Console.line("on disk         \(ByteCount.format(diskBytes)) (file and write-ahead log)")
        }
        for namespace in StoreStatistics.namespaces {
            Console.line(namespace.padding(toLength: 16, withPad: " ", startingAt: 0) + "\(result.contents.entries[namespace] ?? 0)")
        }
        Console.line("blobs           \(result.contents.blobs) (\(ByteCount.format(result.contents.blobBytes)))")
    }
}
