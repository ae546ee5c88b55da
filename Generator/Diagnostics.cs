using Microsoft.CodeAnalysis;

namespace ModelGen.Generator;

/// <summary>Every diagnostic the generator reports. Ids are tracked in AnalyzerReleases.*.md.</summary>
public static class Diagnostics
{
    const string Category = "ModelGen";

    public static readonly DiagnosticDescriptor NotPartial = new(
        "MG0001", "Model class must be partial",
        "'{0}' must be declared partial so that ModelGen can add its compiled code",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor ShapeMismatch = new(
        "MG0002", "Shape mismatch",
        "{0}: {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnknownMethod = new(
        "MG0003", "Unknown method or op",
        "'{0}' is not an op of ModelGen.Ops nor the Forward method of a layer or module: {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor CannotCompile = new(
        "MG0004", "Construct cannot be compiled",
        "'{0}' cannot be compiled into a static graph: {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor MissingForward = new(
        "MG0005", "Missing [Forward] method",
        "'{0}' has no method marked [Forward]",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InvalidShape = new(
        "MG0006", "Invalid [Shape] argument",
        "Invalid [Shape] on '{0}': {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InvalidParameter = new(
        "MG0007", "Invalid [Parameter] declaration",
        "Invalid [Parameter] '{0}': {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InvalidSignature = new(
        "MG0008", "Invalid [Forward] or [Loss] signature",
        "'{0}': {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InvalidLayer = new(
        "MG0009", "Invalid layer or module field",
        "Field '{0}': {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor ClassConflict = new(
        "MG0010", "Class cannot be extended",
        "'{0}': {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InternalError = new(
        "MG0011", "ModelGen could not compile the model",
        "ModelGen could not compile '{0}' ({1}); please report this with the model source",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NeedsCSharp13 = new(
        "MG0012", "ModelGen needs C# 13",
        "'{0}' declares [Parameter] partial properties, which need C# 13 or later; this project uses C# {1}: set <LangVersion>13</LangVersion> (or later) in the project file",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    /// <summary>
    /// Marks a problem the C# compiler already reports (e.g. arguments that fit no overload): the class gets no
    /// compiled program, and ModelGen adds no diagnostic of its own.
    /// </summary>
    public const string SilentId = "CS";

    /// <summary>Diagnostics after which the class gets no generated code at all: adding to it would only add errors.</summary>
    public static bool BlocksEmission(string id) => id is "MG0001" or "MG0010" or "MG0011";

    public static DiagnosticDescriptor ById(string id) => id switch
    {
        "MG0001" => NotPartial,
        "MG0002" => ShapeMismatch,
        "MG0003" => UnknownMethod,
        "MG0004" => CannotCompile,
        "MG0005" => MissingForward,
        "MG0006" => InvalidShape,
        "MG0007" => InvalidParameter,
        "MG0008" => InvalidSignature,
        "MG0009" => InvalidLayer,
        "MG0010" => ClassConflict,
        "MG0012" => NeedsCSharp13,
        _ => InternalError,
    };
}
