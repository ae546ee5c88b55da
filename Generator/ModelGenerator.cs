using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;
using ModelGen.Generator.Model;
using ModelGen.Generator.Parser;

namespace ModelGen.Generator;

/// <summary>
/// The ModelGen source generator: turns every <c>[Model]</c> class into compiled forward, backward and
/// training code, and every <c>[Module]</c> class into the code that binds it to a model's parameters.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class ModelGenerator : IIncrementalGenerator
{
    const string ModelAttribute = "ModelGen.ModelAttribute";
    const string ModuleAttribute = "ModelGen.ModuleAttribute";
    const string GpuAssembly = "ModelGen.Runtime.Gpu";

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        // 1. Find the classes marked [Model] and [Module] and read each into an equatable spec. The parser is
        //    the only stage that sees symbols and syntax; from here on everything compares by value, so an
        //    unrelated edit stops the pipeline at this step.
        var models = context.SyntaxProvider.ForAttributeWithMetadataName(ModelAttribute,
            static (node, _) => node is ClassDeclarationSyntax or RecordDeclarationSyntax,
            static (ctx, ct) => Guard.Parse(ctx, isModel: true, ct)).WithTrackingName(TrackingNames.ModelSpec);
        var modules = context.SyntaxProvider.ForAttributeWithMetadataName(ModuleAttribute,
            static (node, _) => node is ClassDeclarationSyntax or RecordDeclarationSyntax,
            static (ctx, ct) => Guard.Parse(ctx, isModel: false, ct)).WithTrackingName(TrackingNames.ModuleSpec);

        // 2. Which backends to emit: the CPU always; the GPU when the compilation references the GPU backend's
        //    assembly, so that a CPU-only app gets exactly the code it had (and no ILGPU dependency).
        var gpu = context.CompilationProvider.Select(static (c, _) => c.ReferencedAssemblyNames.Any(a => a.Name == GpuAssembly)).WithTrackingName(TrackingNames.Backends);

        // 3. Compile each spec: lower the forward body to a graph, differentiate it, fuse it, plan its memory and
        //    emit C# for each backend. The result is source text plus diagnostics, again equatable, so it is cached as a whole.
        var compiledModels = models.Where(static spec => spec != null).Combine(gpu).Select(static (input, ct) => Guard.Compile(input.Left!, input.Right, ct)).WithTrackingName(TrackingNames.CompiledModel);
        var compiledModules = modules.Where(static spec => spec != null).Select(static (spec, ct) => Guard.Compile(spec!, false, ct)).WithTrackingName(TrackingNames.CompiledModule);

        // 4. Report the diagnostics at their source spans and add the generated files.
        context.RegisterSourceOutput(compiledModels, static (spc, output) => Write(spc, output));
        context.RegisterSourceOutput(compiledModules, static (spc, output) => Write(spc, output));
    }

    static void Write(SourceProductionContext context, GeneratedFile output)
    {
        foreach (var d in output.Diagnostics.Where(d => d.Id != Diagnostics.SilentId))
            context.ReportDiagnostic(Diagnostic.Create(Diagnostics.ById(d.Id), d.Span?.ToLocation() ?? Location.None,
                d.Additional.Select(s => s.ToLocation()), d.Args.Cast<object>().ToArray()));
        if (output.Source.Length > 0) context.AddSource(output.HintName, SourceText.From(output.Source, Encoding.UTF8));
    }
}

/// <summary>Names of the pipeline steps, so that tests can check which steps an edit re-ran.</summary>
public static class TrackingNames
{
    public const string ModelSpec = nameof(ModelSpec);
    public const string ModuleSpec = nameof(ModuleSpec);
    public const string CompiledModel = nameof(CompiledModel);
    public const string CompiledModule = nameof(CompiledModule);
    public const string Backends = nameof(Backends);
}

/// <summary>The generated source of one class and the diagnostics found while compiling it.</summary>
public sealed record GeneratedFile(string HintName, string Source, EquatableArray<DiagnosticInfo> Diagnostics);

/// <summary>
/// Runs the pipeline stages so that no input, however malformed, makes the generator throw: anything a stage
/// did not expect becomes diagnostic MG0011 at the class, with the reason.
/// </summary>
internal static class Guard
{
    public static ClassSpec? Parse(GeneratorAttributeSyntaxContext context, bool isModel, System.Threading.CancellationToken ct)
    {
        var declaration = (TypeDeclarationSyntax)context.TargetNode;
        try
        {
            return ModelParser.Parse((INamedTypeSymbol)context.TargetSymbol, declaration, context.SemanticModel, isModel, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var symbol = context.TargetSymbol;
            return new ClassSpec(symbol.ContainingNamespace?.IsGlobalNamespace == false ? symbol.ContainingNamespace.ToDisplayString() : "",
                symbol.Name, "internal", EquatableArray<string>.Empty, isModel, declaration.SyntaxTree.FilePath, null,
                EquatableArray<TypeSpec>.Empty, null, EquatableArray<DeclaredParameter>.Empty, EquatableArray<LayerField>.Empty,
                EquatableArray.Of(new DiagnosticInfo("MG0011", SourceSpan.From(declaration.Identifier.GetLocation()),
                    EquatableArray.Of(symbol.Name, "parser: " + e.GetType().Name + ": " + e.Message))));
        }
    }

    public static GeneratedFile Compile(ClassSpec spec, bool gpu, System.Threading.CancellationToken ct)
    {
        try
        {
            return Compiler.Compile(spec, gpu, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var diagnostics = spec.Diagnostics.ToList();
            diagnostics.Add(new DiagnosticInfo("MG0011", spec.Root == null ? null : spec.Types.FirstOrDefault()?.Forward?.Span,
                EquatableArray.Of(spec.ClassName, "compiler: " + e.GetType().Name + ": " + e.Message)));
            return new GeneratedFile(Compiler.HintName(spec), "", diagnostics.ToEquatable());
        }
    }
}
