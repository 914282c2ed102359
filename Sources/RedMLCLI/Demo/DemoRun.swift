import Foundation
import RedML

/// What `redml demo` does, step by step, against any ``MLStore``.
struct DemoRun {
    /// The model the demo registers versions of.
    static let model = "demo"
    /// How many compare-and-swap attempts are made before a lost race is reported.
    static let maximumAttempts = 10

    /// The store to run against.
    let opened: OpenedStore

    /// Allocates, writes and reads back the next demo version; then lists the
    /// versions and checks the store.
    func run() async throws -> DemoReport {
        let clock = ContinuousClock()
        let began = clock.now
        let started = Date()
        var ids = MLJobIDGenerator()
        let jobKey = MLKey.job(ids.next(at: started))
        let commit = try await allocateAndCommit(jobKey: jobKey, started: started)
        let weights = try await readBack(commit.versionKey)
        let listing = try await DemoVersionListing.load(model: Self.model, from: opened.store)
        var integrity: IntegritySummary?
        if let sqlite = opened.sqlite {
            integrity = IntegritySummary(try await sqlite.checkIntegrity(verifyBlobs: true), blobsVerified: true)
        }
        return DemoReport(
            store: opened.location.description, backend: opened.location.backendName,
            schemaVersion: opened.schemaVersion, model: Self.model, version: commit.version.version,
            attempts: commit.attempts, previousModelRevision: commit.previousRevision?.rawValue,
            revision: commit.revision.rawValue, job: commit.job, modelVersion: commit.version,
            weights: weights, versions: listing.versions, unreadableVersions: listing.unreadable,
            integrity: integrity, elapsedMilliseconds: Self.milliseconds(began.duration(to: clock.now)))
    }

    /// What the committing batch wrote.
    private struct Commit {
        var version: DemoModelVersionRecord
        var versionKey: String
        var job: DemoJobRecord
        var revision: MLRevision
        var previousRevision: MLRevision?
        var attempts: Int
    }

    /// Steps 1 and 2: reads the model record, stages the next version's
    /// weights, and commits the model record (compare-and-swap), the weights,
    /// the version record and the job record in one batch. Retries a lost race.
    private func allocateAndCommit(jobKey: String, started: Date) async throws -> Commit {
        let store = opened.store
        let modelKey = MLKey.model(Self.model)
        var attempt = 0
        while true {
            attempt += 1
            let current = try await store.entry(namespace: MLNamespace.models, key: modelKey)
            let recorded = try current.map {
                try MLJSON.decode(DemoModelRecord.self, from: $0.value, namespace: MLNamespace.models, key: $0.key)
            }
            let highest = try await DemoVersionListing.highestVersion(model: Self.model, in: store)
            let base = max(recorded?.latestVersion ?? 0, highest)
            guard base < UInt32.max else {
                throw CLIError("model \(Self.model) already has version \(base), the highest there can be")
            }
            let version = base + 1
            let staged = try await store.writeBlob(DemoWeights(run: version))
            let now = Date()
            let versionKey = MLKey.modelVersion(Self.model, version)
            let versionRecord = DemoModelVersionRecord(
                model: Self.model, version: version, weightsSHA256: staged.sha256, weightsSize: staged.size,
                createdAtMilliseconds: now.unixMilliseconds, archived: false, metrics: ["run": Double(version)],
                jobID: jobKey, createdBy: "redml demo")
            let job = DemoJobRecord(
                id: jobKey, kind: "demo", target: Self.model, status: "completed", progress: 100,
                createdAtMilliseconds: started.unixMilliseconds, startedAtMilliseconds: started.unixMilliseconds,
                finishedAtMilliseconds: now.unixMilliseconds)
            var batch = MLBatch()
            batch.put(
                namespace: MLNamespace.models, key: modelKey,
                value: try DemoModelRecord.updated(
                    current, name: Self.model, version: version, now: now.unixMilliseconds),
                if: current.map { .revision($0.revision) } ?? .absent)
            batch.commitBlob(staged)
            batch.put(
                namespace: MLNamespace.modelVersions, key: versionKey, value: try MLJSON.encode(versionRecord),
                if: .absent)
            batch.put(namespace: MLNamespace.jobs, key: jobKey, value: try MLJSON.encode(job), if: .absent)
            do {
                let revision = try await store.commit(batch)
                return Commit(
                    version: versionRecord, versionKey: versionKey, job: job, revision: revision,
                    previousRevision: current?.revision, attempts: attempt)
            } catch let error as MLPersistenceError {
                try? await store.abortBlobUpload(staged.upload)
                guard case .conflict = error, attempt < Self.maximumAttempts else { throw error }
                // Another writer won the race: back off a random while, so that
                // racing writers spread out, then read the new state and retry.
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...10) * attempt))
            } catch {
                try? await store.abortBlobUpload(staged.upload)
                throw error
            }
        }
    }

    /// Step 3: reads the version record back and streams its weights, verified.
    private func readBack(_ versionKey: String) async throws -> DemoReport.Weights {
        let store = opened.store
        guard let entry = try await store.entry(namespace: MLNamespace.modelVersions, key: versionKey) else {
            throw CLIError(
                "model version \(versionKey) was gone right after it was committed; "
                    + "another writer deleted it, run the demo again")
        }
        let record = try MLJSON.decode(
            DemoModelVersionRecord.self, from: entry.value, namespace: MLNamespace.modelVersions, key: versionKey)
        var size: Int64 = 0
        var chunks = 0
        // The stream throws at its end if the bytes no longer hash to their address.
        for try await chunk in try await store.readBlob(sha256: record.weightsSHA256) {
            size += Int64(chunk.count)
            chunks += 1
        }
        guard size == record.weightsSize else {
            throw MLPersistenceError.corruptValue(
                namespace: MLNamespace.modelVersions, key: versionKey,
                reason: "weights_size is \(record.weightsSize) but the blob holds \(size) bytes")
        }
        return DemoReport.Weights(sha256: record.weightsSHA256, size: size, chunks: chunks, verified: true)
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
