import Foundation
import PostgresNIO
import RedMLPersistence

/// The blob tables: uploads hold `bytea` chunks until a batch commits them under their SHA-256.
enum PostgresBlobs {
    /// Makes a staged blob readable, inside a batch's transaction.
    static func commit(_ blob: MLStagedBlob, _ sql: PostgresSQL, _ tables: PostgresTables) async throws {
        // Locked, so that abandoned-upload cleanup cannot remove it under the commit.
        let upload = try await sql.rows(
            """
            SELECT sha256, size, chunk_count, committed FROM \(unescaped: tables.blobUploads)
            WHERE id = \(blob.upload.rawValue) FOR UPDATE
            """
        ).first.map { try $0.decode((String?, Int64?, Int?, Bool).self) }
        guard let upload, upload.0 == blob.sha256, upload.1 == blob.size, upload.2 == blob.chunkCount, !upload.3 else {
            throw MLPersistenceError.invalidArgument(
                "\(blob.upload) is not a finished, uncommitted upload of blob \(blob.sha256)")
        }
        // Identical bytes are stored once: the new copy takes the old one's place, which costs what
        // dropping it would, and repairs a copy damaged behind the store's back.
        let replaced = try await sql.one(
            """
            WITH old AS (SELECT upload_id FROM \(unescaped: tables.blobs) WHERE sha256 = \(blob.sha256) FOR UPDATE)
            UPDATE \(unescaped: tables.blobs) AS b
            SET size = \(blob.size), chunk_count = \(blob.chunkCount), upload_id = \(blob.upload.rawValue)
            FROM old WHERE b.sha256 = \(blob.sha256)
            RETURNING old.upload_id
            """, as: Int64.self)
        if let replaced {
            try await sql.execute("DELETE FROM \(unescaped: tables.blobUploads) WHERE id = \(replaced)")
        } else {
            try await sql.execute(
                """
                INSERT INTO \(unescaped: tables.blobs) (sha256, size, chunk_count, upload_id, created_at_ms)
                VALUES (\(blob.sha256), \(blob.size), \(blob.chunkCount), \(blob.upload.rawValue), \(nowMilliseconds()))
                """)
        }
        try await sql.execute(
            "UPDATE \(unescaped: tables.blobUploads) SET committed = true WHERE id = \(blob.upload.rawValue)")
    }

    /// Removes a committed blob and its chunks, inside a batch's transaction.
    static func delete(sha256: String, _ sql: PostgresSQL, _ tables: PostgresTables) async throws {
        guard
            let upload = try await sql.one(
                "DELETE FROM \(unescaped: tables.blobs) WHERE sha256 = \(sha256) RETURNING upload_id", as: Int64.self)
        else { return }
        try await sql.execute("DELETE FROM \(unescaped: tables.blobUploads) WHERE id = \(upload)")
    }

    static func nowMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }
}

extension PostgresMLPersistence {
    public func beginBlobUpload() async throws -> MLBlobUploadID {
        let id = try await withSQL { sql in
            try await sql.one(
                """
                INSERT INTO \(unescaped: self.tables.blobUploads) (started_at_ms)
                VALUES (\(PostgresBlobs.nowMilliseconds())) RETURNING id
                """,
                as: Int64.self)
        }
        guard let id else { throw MLPersistenceError.backend("postgres \(storeName): upload insert returned no id") }
        return MLBlobUploadID(rawValue: id)
    }

    public func appendBlobChunk(_ chunk: Data, index: Int, to upload: MLBlobUploadID) async throws {
        guard index >= 0, index <= Int(Int32.max) else {
            throw MLPersistenceError.invalidArgument("chunk index \(index) of \(upload) is out of range")
        }
        let stored = try await withSQL { sql in
            try await sql.rows(
                try """
                INSERT INTO \(unescaped: self.tables.blobChunks) (upload_id, seq, data)
                SELECT id, \(Int32(index)), \(chunk) FROM \(unescaped: self.tables.blobUploads)
                WHERE id = \(upload.rawValue) AND sha256 IS NULL
                RETURNING 1
                """
            ).count
        }
        guard stored == 1 else { throw MLPersistenceError.invalidArgument("\(upload) is not open for writing") }
    }

    public func finishBlobUpload(
        _ upload: MLBlobUploadID, sha256: String, size: Int64, chunkCount: Int
    ) async throws -> MLStagedBlob {
        try MLInput.checkSHA256(sha256)
        guard chunkCount >= 0, chunkCount <= Int(Int32.max) else {
            throw MLPersistenceError.invalidArgument("chunk count \(chunkCount) of \(upload) is out of range")
        }
        let uploads = tables.blobUploads
        let chunks = tables.blobChunks
        return try await withSQL { sql in
            var (count, last): (Int64, Int64) = (0, -1)
            if let row = try await sql.rows(
                """
                SELECT count(*), coalesce(max(seq), -1)::bigint FROM \(unescaped: chunks)
                WHERE upload_id = \(upload.rawValue)
                """
            ).first {
                (count, last) = try row.decode((Int64, Int64).self)
            }
            guard count == Int64(chunkCount), last == Int64(chunkCount) - 1 else {
                throw MLPersistenceError.invalidArgument(
                    "\(upload) holds \(count) chunks up to index \(last), not \(chunkCount)")
            }
            // Sealing makes the upload refuse further chunks (appends require sha256 IS NULL).
            let sealed = try await sql.rows(
                """
                UPDATE \(unescaped: uploads) SET sha256 = \(sha256), size = \(size), chunk_count = \(Int32(chunkCount))
                WHERE id = \(upload.rawValue) AND sha256 IS NULL RETURNING 1
                """
            ).count
            guard sealed == 1 else { throw MLPersistenceError.invalidArgument("\(upload) is not open for writing") }
            return MLStagedBlob(upload: upload, sha256: sha256, size: size, chunkCount: chunkCount)
        }
    }

    /// Stages a one-chunk blob in a single statement instead of three.
    public func stageBlob(chunk: Data, sha256: String) async throws -> MLStagedBlob {
        try MLInput.checkSHA256(sha256)
        guard chunk.count <= blobChunkSize else {
            throw MLPersistenceError.invalidArgument(
                "a one-step blob holds at most \(blobChunkSize) bytes, got \(chunk.count)")
        }
        let upload = try await withSQL { sql in
            try await sql.one(
                try """
                WITH upload AS (
                    INSERT INTO \(unescaped: self.tables.blobUploads) (started_at_ms, sha256, size, chunk_count)
                    VALUES (\(PostgresBlobs.nowMilliseconds()), \(sha256), \(Int64(chunk.count)), 1) RETURNING id
                )
                INSERT INTO \(unescaped: self.tables.blobChunks) (upload_id, seq, data)
                SELECT id, 0, \(chunk) FROM upload RETURNING upload_id
                """,
                as: Int64.self)
        }
        guard let upload else { throw MLPersistenceError.backend("postgres \(storeName): staging returned no upload") }
        return MLStagedBlob(
            upload: MLBlobUploadID(rawValue: upload), sha256: sha256, size: Int64(chunk.count), chunkCount: 1)
    }

    public func abortBlobUpload(_ upload: MLBlobUploadID) async throws {
        try await withSQL { sql in
            try await sql.execute(
                "DELETE FROM \(unescaped: self.tables.blobUploads) WHERE id = \(upload.rawValue) AND NOT committed")
        }
    }

    @discardableResult
    public func removeAbandonedBlobUploads(startedBefore date: Date) async throws -> Int {
        let cutoff = Int64((date.timeIntervalSince1970 * 1000).rounded())
        return try await withSQL { sql in
            try await sql.rows(
                """
                DELETE FROM \(unescaped: self.tables.blobUploads)
                WHERE NOT committed AND started_at_ms < \(cutoff) RETURNING id
                """
            ).count
        }
    }

    public func blobInfo(sha256: String) async throws -> MLBlobInfo? {
        try await withSQL { sql in
            try await sql.rows(
                "SELECT size, chunk_count FROM \(unescaped: self.tables.blobs) WHERE sha256 = \(sha256)"
            ).first.map { row in
                let (size, chunkCount) = try row.decode((Int64, Int).self)
                return MLBlobInfo(sha256: sha256, size: size, chunkCount: chunkCount)
            }
        }
    }

    public func readBlobChunk(sha256: String, index: Int) async throws -> Data {
        guard index >= 0, index <= Int(Int32.max) else {
            throw MLPersistenceError.invalidArgument("chunk index \(index) of blob \(sha256) is out of range")
        }
        let tables = self.tables
        return try await withSQL { sql in
            // The LEFT JOIN tells a missing blob (no row) from a missing chunk (NULL data).
            guard
                let row = try await sql.rows(
                    """
                    SELECT c.data FROM \(unescaped: tables.blobs) b
                    LEFT JOIN \(unescaped: tables.blobChunks) c ON c.upload_id = b.upload_id AND c.seq = \(Int32(index))
                    WHERE b.sha256 = \(sha256)
                    """
                ).first
            else { throw MLPersistenceError.blobNotFound(sha256: sha256) }
            guard let data = try row.decode(Data?.self) else {
                throw MLPersistenceError.corruption("blob \(sha256) has no chunk \(index)")
            }
            return data
        }
    }

    public func blobs(after: String?, limit: Int) async throws -> [MLBlobInfo] {
        guard limit >= 1 else { throw MLPersistenceError.invalidArgument("limit must be at least 1, got \(limit)") }
        return try await withSQL { sql in
            try await sql.rows(
                """
                SELECT sha256, size, chunk_count FROM \(unescaped: self.tables.blobs)
                WHERE sha256 > \(after ?? "") ORDER BY sha256 LIMIT \(Int64(min(limit, 1 << 40)))
                """
            ).map { row in
                let (sha256, size, chunkCount) = try row.decode((String, Int64, Int).self)
                return MLBlobInfo(sha256: sha256, size: size, chunkCount: chunkCount)
            }
        }
    }

    /// Flips one byte of a committed blob behind the store's back, so tests can
    /// prove that reads verify.
    package func tamperWithBlob(sha256: String) async throws {
        try await withSQL { sql in
            try await sql.execute(
                """
                UPDATE \(unescaped: self.tables.blobChunks)
                SET data = CASE WHEN length(data) = 0 THEN '\\x00'::bytea
                                ELSE set_byte(data, 0, get_byte(data, 0) # 255) END
                WHERE seq = 0 AND upload_id = (SELECT upload_id FROM \(unescaped: self.tables.blobs) WHERE sha256 = \(sha256))
                """)
        }
    }
}
