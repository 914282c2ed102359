import ArgumentParser
import Foundation
import RedML

/// The options every `redml` command takes: which store, and how to print.
struct StoreOptions: ParsableArguments {
    /// The environment variable read when `--store` is not given.
    static let environmentVariable = "REDML_STORE"
    /// The store used when neither `--store` nor `REDML_STORE` is set.
    static let defaultStore = "./redml.sqlite"

    /// The `--store` argument, if given.
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The store: a SQLite file path, or memory: for a throwaway in-memory store. "
                + "Default: $\(environmentVariable), else \(defaultStore).",
            valueName: "path|memory:"))
    var store: String?

    /// Whether to print one JSON object instead of text.
    @Flag(name: .long, help: "Print one machine-readable JSON object instead of text.")
    var json = false

    /// The store to use: `--store`, else `REDML_STORE`, else ``defaultStore``.
    func location(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> StoreLocation {
        if let store { return try StoreLocation(parsing: store) }
        if let fromEnvironment = environment[Self.environmentVariable], !fromEnvironment.isEmpty {
            return try StoreLocation(parsing: fromEnvironment)
        }
        return try StoreLocation(parsing: Self.defaultStore)
    }

    /// Opens the store, runs `body` with it and closes it again.
    ///
    /// - Parameter create: whether a missing SQLite file may be created. Commands
    ///   that only inspect a store pass `false`, so a mistyped path fails
    ///   instead of quietly creating an empty store.
    func withStore<Result>(
        create: Bool, _ body: (OpenedStore) async throws -> Result
    ) async throws -> Result {
        let opened = try OpenedStore.open(try location(), create: create)
        do {
            let result = try await body(opened)
            try opened.close()
            return result
        } catch {
            try? opened.close()
            throw error
        }
    }
}
