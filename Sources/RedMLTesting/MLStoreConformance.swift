import RedMLPersistence

/// The conformance suite that every RedML backend must pass.
///
/// A backend's test target runs each case against its fixture, for example with
/// Swift Testing:
///
/// ```swift
/// @Test(arguments: MLStoreConformance.cases)
/// func conforms(_ conformance: MLConformanceCase) async throws {
///     try await conformance.run(myFixture)
/// }
/// ```
public enum MLStoreConformance {
    /// Every case, grouped by the part of the contract it checks.
    public static let cases: [MLConformanceCase] =
        SeedCases.all
        + ListCases.all
        + ValueCases.all
        + RevisionCases.all
        + BatchCases.all
        + BigBatchCases.all
        + ConditionalWriteCases.all
        + ConcurrencyCases.all
        + PagingCases.all
        + BlobCases.all
        + BlobUploadCases.all
        + LargeBlobCases.all
        + JSONCases.all
}
