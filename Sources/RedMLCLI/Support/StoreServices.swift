import Foundation
import RedML

extension StoreOptions {
    /// Opens the store, runs `body` with a registry over it, and closes it.
    ///
    /// A registry failure becomes a ``CLIError`` that names what to do.
    func withRegistry<Result>(
        create: Bool, _ body: (MLModelRegistry) async throws -> Result
    ) async throws -> Result {
        try await withStore(create: create) { opened in
            let registry = MLModelRegistry(store: opened.store)
            do {
                return try await body(registry)
            } catch let error as MLRegistryError {
                throw await CLIError.explaining(error, registry: registry)
            }
        }
    }

    /// Opens the store, runs `body` with a job queue over it, and closes it.
    ///
    /// A queue failure becomes a ``CLIError`` that names what to do.
    func withQueue<Result>(
        create: Bool, _ body: (MLJobQueue) async throws -> Result
    ) async throws -> Result {
        try await withStore(create: create) { opened in
            do {
                return try await body(MLJobQueue(store: opened.store))
            } catch let error as MLJobError {
                throw CLIError(error)
            }
        }
    }
}
