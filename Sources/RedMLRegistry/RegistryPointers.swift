import RedMLCore
import RedMLPersistence

/// Where an alias must point for a conditional move to go ahead.
public enum MLAliasExpectation: Hashable, Sendable {
    /// Move it wherever it points now.
    case any
    /// Only if the alias does not exist yet.
    case absent
    /// Only if the alias points at this version now (compare-and-swap).
    case pointsAt(UInt32)

    func admits(_ current: UInt32?) -> Bool {
        switch self {
        case .any: true
        case .absent: current == nil
        case .pointsAt(let version): current == version
        }
    }
}

extension MLModelRegistry {
    /// Makes `version` the active version (this is also rollback).
    ///
    /// - Throws: `unknown_version`, or `version_archived`: an archived version cannot serve.
    @discardableResult
    public func activate(_ model: String, version: UInt32, by actor: String? = nil) async throws -> MLModelVersion {
        try await change(model, actor: actor) { change in
            let (found, _) = try await requireVersion(change.model, version, changing: true)
            guard !found.archived else { throw MLRegistryError.archived(model, version, action: "activated") }
            guard change.model.activeVersion != version else { return .unchanged(found) }
            let previous = change.model.activeVersion
            change.model.activeVersion = version
            change.newActive = .some(found)
            change.log(.activated, version: version, previous: previous)
            return .commit(found)
        }
    }

    /// Clears the active pointer, so that no version serves: an explicit decision.
    public func deactivate(_ model: String, by actor: String? = nil) async throws {
        try await change(model, actor: actor) { change in
            guard let previous = change.model.activeVersion else { return .unchanged(()) }
            change.model.activeVersion = nil
            change.newActive = .some(nil)
            change.log(.deactivated, previous: previous)
            return .commit(())
        }
    }

    /// Points `alias` at `version`, if the alias is where `expecting` says.
    ///
    /// - Throws: `invalid_argument` for a malformed alias, a built-in one
    ///   (`active`, `latest`) or one that differs from a built-in one only in
    ///   case (`Latest`); `alias_conflict` naming where the alias points now when the
    ///   expectation fails; `version_archived` for an archived version.
    @discardableResult
    public func setAlias(
        _ alias: String, of model: String, to version: UInt32, expecting: MLAliasExpectation = .any,
        by actor: String? = nil
    ) async throws -> MLModelVersion {
        try await withModelErrors(model) { try RegistryValidation.newAlias(alias, model: model) }
        return try await change(model, actor: actor) { change in
            let current = change.model.aliases[alias]
            try checkExpectation(expecting, alias: alias, model: model, current: current)
            let (found, _) = try await requireVersion(change.model, version, changing: true)
            guard !found.archived else { throw MLRegistryError.archived(model, version, action: "aliased as '\(alias)'") }
            guard current != version else { return .unchanged(found) }
            change.model.aliases[alias] = version
            change.log(.aliasMoved, version: version, previous: current, alias: alias)
            return .commit(found)
        }
    }

    /// Removes `alias`, if it is where `expecting` says.
    ///
    /// Any alias that exists can be removed, including one stored before
    /// ``setAlias(_:of:to:expecting:by:)`` refused its spelling (`Latest`).
    public func removeAlias(
        _ alias: String, of model: String, expecting: MLAliasExpectation = .any, by actor: String? = nil
    ) async throws {
        try await withModelErrors(model) { try RegistryValidation.alias(alias, model: model) }
        try await change(model, actor: actor) { change in
            let current = change.model.aliases[alias]
            try checkExpectation(expecting, alias: alias, model: model, current: current)
            guard let current else { throw MLRegistryError.unknownAlias(model, alias) }
            change.model.aliases[alias] = nil
            change.log(.aliasRemoved, previous: current, alias: alias)
            return .commit(())
        }
    }

    private func checkExpectation(
        _ expecting: MLAliasExpectation, alias: String, model: String, current: UInt32?
    ) throws {
        guard expecting.admits(current) else {
            let wanted = switch expecting {
            case .any: "anywhere"
            case .absent: "absent"
            case .pointsAt(let version): "at version \(version)"
            }
            throw MLRegistryError(
                code: .aliasConflict,
                message: "alias '\(alias)' of model '\(model)' was expected \(wanted) but "
                    + (current.map { "points at version \($0)" } ?? "does not exist") + "; nothing was changed",
                model: model, version: current)
        }
    }

    /// Archives `version`: it stays readable, but cannot be activated or aliased.
    ///
    /// Archiving the active version, or one an alias points at, fails unless
    /// `force` is true; then the active pointer and those aliases are cleared
    /// in the same write, each with its own history event.
    @discardableResult
    public func archive(
        _ model: String, version: UInt32, force: Bool = false, by actor: String? = nil
    ) async throws -> MLModelVersion {
        try await change(model, actor: actor) { change in
            var (found, revision) = try await requireVersion(change.model, version, changing: true)
            guard !found.archived else { return .unchanged(found) }
            let aliases = change.model.aliases.filter { $0.value == version }.keys.sorted()
            let isActive = change.model.activeVersion == version
            if (isActive || !aliases.isEmpty) && !force {
                let uses = (isActive ? ["the active version"] : []) + aliases.map { "alias '\($0)'" }
                throw MLRegistryError(
                    code: .versionInUse,
                    message: "version \(version) of model '\(model)' is \(uses.joined(separator: " and ")); "
                        + "archiving it would stop it serving, so pass force to archive it anyway",
                    model: model, version: version)
            }
            if isActive {
                change.model.activeVersion = nil
                change.newActive = .some(nil)
                change.log(.deactivated, previous: version)
            }
            for alias in aliases {
                change.model.aliases[alias] = nil
                change.log(.aliasRemoved, previous: version, alias: alias)
            }
            found.archived = true
            change.write(found, readAt: revision)
            change.model.archivedCount += 1
            change.log(.archived, version: version)
            return .commit(found)
        }
    }

    /// Unarchives `version`, so it can be activated and aliased again.
    ///
    /// - Throws: `weights_deleted` if retention already deleted its weights.
    @discardableResult
    public func unarchive(_ model: String, version: UInt32, by actor: String? = nil) async throws -> MLModelVersion {
        try await change(model, actor: actor) { change in
            var (found, revision) = try await requireVersion(change.model, version, changing: true)
            guard found.archived else { return .unchanged(found) }
            guard !found.weights.deleted else {
                throw MLRegistryError(
                    code: .weightsDeleted,
                    message: "version \(version) of model '\(model)' cannot be unarchived: retention deleted its weights",
                    model: model, version: version)
            }
            found.archived = false
            change.write(found, readAt: revision)
            change.model.archivedCount -= 1
            change.log(.unarchived, version: version)
            return .commit(found)
        }
    }

    /// Changes a model's description and tags; `nil` leaves a field as it is.
    @discardableResult
    public func updateModel(
        _ model: String, description: String? = nil, tags: [String: String]? = nil, by actor: String? = nil
    ) async throws -> MLModel {
        try await withModelErrors(model) {
            try RegistryValidation.text(description, "description", model: model, limit: 1 << 16)
            if let tags { try RegistryValidation.tags(tags, model: model, field: "tag") }
        }
        return try await change(model, actor: actor) { change in
            var updated = change.model
            if let description { updated.description = description.isEmpty ? nil : description }
            if let tags { updated.tags = tags }
            guard updated != change.model else { return .unchanged(change.original) }
            change.model = updated
            change.log(.modelUpdated)
            return .commit(change.model)
        }
    }

    /// Changes a version's description and tags (its content stays immutable).
    @discardableResult
    public func updateVersion(
        _ model: String, version: UInt32, description: String? = nil, tags: [String: String]? = nil,
        by actor: String? = nil
    ) async throws -> MLModelVersion {
        try await withModelErrors(model) {
            try RegistryValidation.text(description, "description", model: model, limit: 1 << 16)
            if let tags { try RegistryValidation.tags(tags, model: model, field: "tag") }
        }
        return try await change(model, actor: actor) { change in
            var (found, revision) = try await requireVersion(change.model, version, changing: true)
            let before = found
            if let description { found.description = description.isEmpty ? nil : description }
            if let tags { found.tags = tags }
            guard found != before else { return .unchanged(found) }
            change.write(found, readAt: revision)
            change.log(.versionUpdated, version: version)
            if change.model.activeVersion == version { change.newActive = .some(found) }
            return .commit(found)
        }
    }
}
