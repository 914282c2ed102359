import Foundation
import GRDB
import RedMLPersistence

/// The blob tables: uploads hold chunks until a batch commits them under their SHA-256.
enum SQLiteBlobs {
    static func commit(_ db: Database, _ blob: MLStagedBlob) throws {
        let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT sha256, size, chunk_count, committed FROM ml_blob_uploads WHERE id = ?"),
            arguments: [blob.upload.rawValue])
        guard let row, row["sha256"] as String? == blob.sha256, row["size"] as Int64? == blob.size,
            row["chunk_count"] as Int? == blob.chunkCount, row["committed"] as Int == 0
        else {
            throw MLPersistenceError.invalidArgument(
                "\(blob.upload) is not a finished, uncommitted upload of blob \(blob.sha256)")
        }
        let stored = try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT upload_id FROM ml_blobs WHERE sha256 = ?"), arguments: [blob.sha256])
        if let stored {
            // Identical bytes are stored once: the new copy takes the old one's place, which costs
            // what dropping it would, and repairs a copy damaged behind the store's back.
            try db.cachedStatement(sql: "UPDATE ml_blobs SET size = ?, chunk_count = ?, upload_id = ? WHERE sha256 = ?")
                .execute(arguments: [blob.size, blob.chunkCount, blob.upload.rawValue, blob.sha256])
            try db.cachedStatement(sql: "DELETE FROM ml_blob_uploads WHERE id = ?").execute(arguments: [stored])
        } else {
            try db.cachedStatement(
                sql: """
                    INSERT INTO ml_blobs (sha256, size, chunk_count, upload_id, created_at_ms) VALUES (?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [blob.sha256, blob.size, blob.chunkCount, blob.upload.rawValue, nowMilliseconds()])
        }
        try db.cachedStatement(sql: "UPDATE ml_blob_uploads SET committed = 1 WHERE id = ?")
            .execute(arguments: [blob.upload.rawValue])
    }

    static func delete(_ db: Database, sha256: String) throws {
        guard
            let upload = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT upload_id FROM ml_blobs WHERE sha256 = ?"), arguments: [sha256])
        else { return }
        try db.cachedStatement(sql: "DELETE FROM ml_blobs WHERE sha256 = ?").execute(arguments: [sha256])
        try db.cachedStatement(sql: "DELETE FROM ml_blob_uploads WHERE id = ?").execute(arguments: [upload])
    }

    static func nowMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }
}

extension SQLiteMLPersistence {
    public func beginBlobUpload() async throws -> MLBlobUploadID {
        try await write { context in
            try context.db.execute(
                sql: "INSERT INTO ml_blob_uploads (started_at_ms) VALUES (?)",
                arguments: [SQLiteBlobs.nowMilliseconds()])
            return MLBlobUploadID(rawValue: context.db.lastInsertedRowID)
        }
    }

    public func appendBlobChunk(_ chunk: Data, index: Int, to upload: MLBlobUploadID) async throws {
        try await write { context in
            try context.db.cachedStatement(
                sql: """
                    INSERT INTO ml_blob_chunks (upload_id, seq, data)
                    SELECT id, ?, ? FROM ml_blob_uploads WHERE id = ? AND sha256 IS NULL
                    """
            ).execute(arguments: [index, chunk, upload.rawValue])
            guard context.db.changesCount == 1 else {
                throw MLPersistenceError.invalidArgument("\(upload) is not open for writing")
            }
        }
    }

    public func finishBlobUpload(
        _ upload: MLBlobUploadID, sha256: String, size: Int64, chunkCount: Int
    ) async throws -> MLStagedBlob {
        try MLInput.checkSHA256(sha256)
        return try await write { context in
            let db = context.db
            let stored = try Row.fetchOne(
                db, sql: "SELECT count(*), coalesce(max(seq), -1) FROM ml_blob_chunks WHERE upload_id = ?",
                arguments: [upload.rawValue])
            let count: Int = stored?[0] ?? 0
            let last: Int = stored?[1] ?? -1
            guard count == chunkCount, last == chunkCount - 1 else {
                throw MLPersistenceError.invalidArgument(
                    "\(upload) holds \(count) chunks up to index \(last), not \(chunkCount)")
            }
            try db.execute(
                sql: "UPDATE ml_blob_uploads SET sha256 = ?, size = ?, chunk_count = ? WHERE id = ? AND sha256 IS NULL",
                arguments: [sha256, size, chunkCount, upload.rawValue])
            guard db.changesCount == 1 else {
                throw MLPersistenceError.invalidArgument("\(upload) is not open for writing")
            }
            return MLStagedBlob(upload: upload, sha256: sha256, size: size, chunkCount: chunkCount)
        }
    }

    /// Stages a one-chunk blob in a single write instead of three.
    public func stageBlob(chunk: Data, sha256: String) async throws -> MLStagedBlob {
        try MLInput.checkSHA256(sha256)
        guard chunk.count <= blobChunkSize else {
            throw MLPersistenceError.invalidArgument(
                "a one-step blob holds at most \(blobChunkSize) bytes, got \(chunk.count)")
        }
        return try await write { context in
            let db = context.db
            try db.cachedStatement(
                sql: "INSERT INTO ml_blob_uploads (started_at_ms, sha256, size, chunk_count) VALUES (?, ?, ?, 1)"
            ).execute(arguments: [SQLiteBlobs.nowMilliseconds(), sha256, chunk.count])
            let upload = db.lastInsertedRowID
            try db.cachedStatement(sql: "INSERT INTO ml_blob_chunks (upload_id, seq, data) VALUES (?, 0, ?)")
                .execute(arguments: [upload, chunk])
            return MLStagedBlob(
                upload: MLBlobUploadID(rawValue: upload), sha256: sha256, size: Int64(chunk.count), chunkCount: 1)
        }
    }

    public func abortBlobUpload(_ upload: MLBlobUploadID) async throws {
        try await write { context in
            try context.db.execute(
                sql: "DELETE FROM ml_blob_uploads WHERE id = ? AND committed = 0", arguments: [upload.rawValue])
        }
    }

    @discardableResult
    public func removeAbandonedBlobUploads(startedBefore date: Date) async throws -> Int {
        let cutoff = Int64((date.timeIntervalSince1970 * 1000).rounded())
        return try await write { context in
            try context.db.execute(
                sql: "DELETE FROM ml_blob_uploads WHERE committed = 0 AND started_at_ms < ?", arguments: [cutoff])
            return context.db.changesCount
        }
    }

    public func blobInfo(sha256: String) async throws -> MLBlobInfo? {
        try read { db in
            try Row.fetchOne(
                db.cachedStatement(sql: "SELECT size, chunk_count FROM ml_blobs WHERE sha256 = ?"),
                arguments: [sha256]
            ).map { MLBlobInfo(sha256: sha256, size: $0[0], chunkCount: $0[1]) }
        }
    }

    public func readBlobChunk(sha256: String, index: Int) async throws -> Data {
        try read { db in
            let statement = try db.cachedStatement(
                sql: """
                    SELECT c.data FROM ml_blobs b
                    JOIN ml_blob_chunks c ON c.upload_id = b.upload_id AND c.seq = ?
                    WHERE b.sha256 = ?
                    """)
            guard let data = try Data.fetchOne(statement, arguments: [index, sha256]) else {
                guard try Bool.fetchOne(db, sql: "SELECT 1 FROM ml_blobs WHERE sha256 = ?", arguments: [sha256]) != nil
                else { throw MLPersistenceError.blobNotFound(sha256: sha256) }
                throw MLPersistenceError.corruption("blob \(sha256) has no chunk \(index)")
            }
            return data
        }
    }

    public func blobs(after: String?, limit: Int) async throws -> [MLBlobInfo] {
        guard limit >= 1 else { throw MLPersistenceError.invalidArgument("limit must be at least 1, got \(limit)") }
        return try read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT sha256, size, chunk_count FROM ml_blobs WHERE sha256 > ? ORDER BY sha256 LIMIT ?",
                arguments: [after ?? "", limit]
            ).map { MLBlobInfo(sha256: $0[0], size: $0[1], chunkCount: $0[2]) }
        }
    }

    /// Flips one byte of a committed blob behind the store's back, so tests can
    /// prove that reads verify.
    package func tamperWithBlob(sha256: String) throws {
        try pool.writeWithoutTransaction { db in
            let sql = """
                SELECT c.rowid, c.data FROM ml_blob_chunks c JOIN ml_blobs b ON c.upload_id = b.upload_id
                WHERE b.sha256 = ? AND c.seq = 0
                """
            guard let row = try Row.fetchOne(db, sql: sql, arguments: [sha256]) else { return }
            var data: Data = row[1]
            if data.isEmpty { data = Data([0]) } else { data[data.startIndex] ^= 0xff }
            try db.execute(sql: "UPDATE ml_blob_chunks SET data = ? WHERE rowid = ?", arguments: [data, row[0] as Int64])
        }
    }
}
