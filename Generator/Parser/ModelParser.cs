using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using ModelGen.Generator.Model;
using ModelGen.Generator.Ops;

namespace ModelGen.Generator.Parser;

/// <summary>
/// Reads a [Model] or [Module] class into a <see cref="ClassSpec"/>. The only code in the generator that
/// touches symbols and syntax: every later stage works on the equatable spec.
/// </summary>
internal sealed class ModelParser
{
    const string Ns = "ModelGen";
    const int MaxDepth = 16;

    readonly Compilation _compilation;
    readonly CancellationToken _ct;
    readonly List<DiagnosticInfo> _diagnostics = new();
    readonly Dictionary<string, TypeSpec> _types = new(StringComparer.Ordinal);
    readonly INamedTypeSymbol? _tensor, _labels, _ops, _moduleAttr, _modelAttr;
    /// <summary>Locals and local functions whose declaration was reported: their uses add no second error.</summary>
    readonly HashSet<string> _reportedLocals = new(StringComparer.Ordinal);
    /// <summary>Above zero while parsing what another output reports (a module's body inside a model): diagnostics are silent.</summary>
    int _quiet;

    ModelParser(Compilation compilation, CancellationToken ct)
    {
        _compilation = compilation;
        _ct = ct;
        _tensor = compilation.GetTypeByMetadataName(Ns + ".Tensor");
        _labels = compilation.GetTypeByMetadataName(Ns + ".Labels");
        _ops = compilation.GetTypeByMetadataName(Ns + ".Ops");
        _moduleAttr = compilation.GetTypeByMetadataName(Ns + ".ModuleAttribute");
        _modelAttr = compilation.GetTypeByMetadataName(Ns + ".ModelAttribute");
    }

    /// <summary>
    /// Reads the class, or returns null when <paramref name="declaration"/> is not the one to read it from: a partial
    /// class with the attribute on several of its declarations is found once per declaration, but is one class.
    /// </summary>
    public static ClassSpec? Parse(INamedTypeSymbol type, TypeDeclarationSyntax declaration, SemanticModel model, bool isModel, CancellationToken ct)
    {
        var parser = new ModelParser(model.Compilation, ct);
        var attribute = isModel ? parser._modelAttr : parser._moduleAttr;
        var first = type.GetAttributes().FirstOrDefault(a => a.AttributeClass != null && a.AttributeClass.Equals(attribute, SymbolEqualityComparer.Default))
            ?.ApplicationSyntaxReference?.GetSyntax(ct).FirstAncestorOrSelf<TypeDeclarationSyntax>();
        if (first != null && first != declaration) return null;
        if (!isModel && GetAttribute(type, "ModelAttribute") != null)
        {
            // One generated file per class: a [Model] is compiled as a model, never also as a module.
            parser.Report("MG0010", declaration.Identifier, type.Name, "a class is either a [Model] or a [Module], not both");
            return new ClassSpec("", type.Name, "internal", EquatableArray<string>.Empty, false, declaration.SyntaxTree.FilePath, null,
                EquatableArray<TypeSpec>.Empty, null, EquatableArray<DeclaredParameter>.Empty, EquatableArray<LayerField>.Empty, parser._diagnostics.ToEquatable());
        }
        return parser.ParseClass(type, declaration, isModel);
    }

    ClassSpec ParseClass(INamedTypeSymbol type, TypeDeclarationSyntax declaration, bool isModel)
    {
        string ns = type.ContainingNamespace.IsGlobalNamespace ? "" : type.ContainingNamespace.ToDisplayString();
        var containing = new List<string>();
        if (type.IsRecord)
        {
            // A record can derive only from a record (C#), and ModelBase is a class; a module's layers are bound to one
            // model's parameters, which a record's value equality and 'with' copies would compare and share.
            Report("MG0010", declaration.Identifier, type.Name, isModel
                ? "a [Model] derives from the class ModelGen.ModelBase, and a record can only derive from a record; declare it 'partial class'"
                : "a [Module]'s layers are bound to one model's parameters, which a record's value equality and 'with' copies would share; declare it 'partial class'");
            return new ClassSpec(ns, type.Name, Accessibility(type.DeclaredAccessibility), EquatableArray<string>.Empty, isModel, declaration.SyntaxTree.FilePath, null,
                EquatableArray<TypeSpec>.Empty, null, EquatableArray<DeclaredParameter>.Empty, EquatableArray<LayerField>.Empty, _diagnostics.ToEquatable());
        }
        bool partial = IsPartial(type);
        if (!partial) Report("MG0001", declaration.Identifier, type.Name);
        for (var outer = type.ContainingType; outer != null; outer = outer.ContainingType)
        {
            if (!IsPartial(outer)) Report("MG0001", declaration.Identifier, outer.Name);
            containing.Insert(0, $"partial {(outer.IsRecord ? "record" : outer.TypeKind == TypeKind.Struct ? "struct" : "class")} {outer.Name}");
        }

        if (isModel)
        {
            if (type.BaseType is { SpecialType: not SpecialType.System_Object } baseType && baseType.ToDisplayString() != Ns + ".ModelBase")
                Report("MG0010", declaration.Identifier, type.Name, $"a model derives from ModelGen.ModelBase, so it cannot derive from '{baseType.ToDisplayString()}'");
            if (type.IsStatic || type.IsGenericType)
                Report("MG0010", declaration.Identifier, type.Name, "a model cannot be static or generic");
            foreach (var ctor in type.InstanceConstructors)
            {
                if (ctor.IsImplicitlyDeclared) continue;
                if (ctor.Parameters.Length == 1 && ctor.Parameters[0].Type.SpecialType == SpecialType.System_Int32)
                    Report("MG0010", ctor.Locations.FirstOrDefault(), type.Name, "ModelGen generates the constructor (int seed); remove this one");
            }
        }

        InstanceSpec? root = null;
        MethodSpec? loss = null;
        var declared = new List<DeclaredParameter>();
        var layerFields = new List<LayerField>();
        if (partial)
        {
            // A model is compiled from its instance tree; a module only needs its layout here (its instances are
            // built, with their constructor arguments, inside each model that uses it). What is wrong with a class
            // itself (its declarations, its forward body) is reported by that class's own output, once.
            if (isModel) root = BuildInstance(type, "", new Dictionary<string, double>(), depth: 0, creation: null);
            else ParseForward(type);
            foreach (var field in type.GetMembers().OfType<IFieldSymbol>())
            {
                if (field.IsStatic || field.IsImplicitlyDeclared || !IsLayerType(field.Type, out bool isArray)) continue;
                // A field with no value gets no binding (it would dereference null).
                bool hasValue = FieldInitializer(field) != null || AssignedInConstructor(type, field.Name);
                bool recordModule = (field.Type is IArrayTypeSymbol a ? a.ElementType : field.Type).IsRecord; // MG0010 in its own output: not an IModule
                layerFields.Add(new LayerField(field.Name, isArray, hasValue && !recordModule));
                if (!hasValue && !isModel) Report("MG0009", field.Locations.FirstOrDefault(), field.Name, NoInitializer);
            }
            bool needsCSharp13Reported = false;
            foreach (var member in type.GetMembers().OfType<IPropertySymbol>())
            {
                if (GetAttribute(member, "ParameterAttribute") is not { } attr) continue;
                string? problem = ParameterProblem(member);
                if (problem != null && !isModel) Report("MG0007", member.Locations.FirstOrDefault(), member.Name, problem);
                var shape = problem == null ? ParameterShape(member, attr, quiet: isModel) : null;
                // Partial properties are C# 13: below it, one error for the class and no implementation part (C# would
                // report each one again inside the generated file).
                if (member.IsPartialDefinition && LanguageVersionOf(member) is { } version && version < LanguageVersion.CSharp13)
                {
                    if (!needsCSharp13Reported)
                        Report("MG0012", member.Locations.FirstOrDefault(), type.Name, version.ToDisplayString());
                    needsCSharp13Reported = true;
                    continue;
                }
                if (member.IsPartialDefinition)
                    declared.Add(new DeclaredParameter(member.Name, Accessibility(member.DeclaredAccessibility), shape ?? EquatableArray<int>.Empty,
                        ParameterInit(attr), shape != null, member.Type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat), Accessors(member)));
            }
            if (isModel) loss = ParseLoss(type);
        }
        return new ClassSpec(ns, type.Name, Accessibility(type.DeclaredAccessibility), containing.ToEquatable(), isModel,
            declaration.SyntaxTree.FilePath, root,
            _types.Values.OrderBy(t => t.TypeKey, StringComparer.Ordinal).ToEquatable(), loss, declared.ToEquatable(),
            layerFields.ToEquatable(), _diagnostics.Distinct().ToEquatable());
    }

    const string NoInitializer = "a layer or module field needs an initializer or a constructor assignment with constant arguments";

    /// <summary>Why a [Parameter] property cannot be bound (null when it can): it must be a get-only partial Tensor.</summary>
    string? ParameterProblem(IPropertySymbol property)
    {
        if (!property.Type.Equals(_tensor, SymbolEqualityComparer.Default)) return "a [Parameter] property must be of type Tensor";
        if (!property.IsPartialDefinition || property.SetMethod != null || property.IsStatic)
            return "a [Parameter] property must be declared 'partial' with only a getter, e.g. 'public partial Tensor W { get; }'";
        return null;
    }

    /// <summary>The C# version of the file that declares <paramref name="symbol"/> (null when not in source).</summary>
    static LanguageVersion? LanguageVersionOf(ISymbol symbol) =>
        symbol.DeclaringSyntaxReferences.FirstOrDefault()?.SyntaxTree.Options is CSharpParseOptions options ? options.LanguageVersion : null;

    /// <summary>The accessors of a partial property's declaration, with their modifiers ("get", "private set").</summary>
    EquatableArray<string> Accessors(IPropertySymbol property) =>
        property.DeclaringSyntaxReferences.Select(r => r.GetSyntax(_ct)).OfType<PropertyDeclarationSyntax>().FirstOrDefault()?.AccessorList?.Accessors
            .Select(a => string.Join(" ", a.Modifiers.Select(m => m.Text).Append(a.Keyword.Text))).ToEquatable() ?? EquatableArray.Of("get");

    bool AssignedInConstructor(INamedTypeSymbol type, string field) => ConstructorAssignments(type, env: null).ContainsKey(field);

    // ---------------- instance tree ----------------

    InstanceSpec BuildInstance(INamedTypeSymbol type, string path, Dictionary<string, double> env, int depth, SyntaxNode? creation)
    {
        _ct.ThrowIfCancellationRequested();
        string key = type.ToDisplayString();
        if (!_types.ContainsKey(key))
        {
            _types[key] = new TypeSpec(key, null); // placeholder guards recursion
            // A module's forward body is reported by the module's own output; here its errors only stop the program.
            if (depth > 0) _quiet++;
            try
            {
                _types[key] = new TypeSpec(key, ParseForward(type));
            }
            finally
            {
                if (depth > 0) _quiet--;
            }
        }
        var fields = new List<FieldSpec>();
        var parameters = new List<ParamSpec>();
        if (depth > MaxDepth)
        {
            Report("MG0009", creation, path, $"modules nest deeper than {MaxDepth} levels (does '{type.Name}' contain itself?)");
            return new InstanceSpec(path, key, EquatableArray<double>.Empty, fields.ToEquatable(), parameters.ToEquatable());
        }

        var ctorAssignments = ConstructorAssignments(type, env);
        foreach (var member in type.GetMembers())
        {
            switch (member)
            {
                case IFieldSymbol field when !field.IsStatic && !field.IsImplicitlyDeclared && IsLayerType(field.Type, out bool isArray):
                    {
                        var init = ctorAssignments.TryGetValue(field.Name, out var assigned) ? assigned : (FieldInitializer(field), env);
                        if (init.Item1 is null)
                        {
                            Report(depth == 0 ? "MG0009" : Diagnostics.SilentId, field.Locations.FirstOrDefault(), field.Name, NoInitializer);
                            continue;
                        }
                        var items = isArray
                            ? BuildArray(init.Item1, Join(path, field.Name), init.Item2, depth, field.Name)
                            : BuildOne(init.Item1, Join(path, field.Name), init.Item2, depth, field.Name) is { } one ? new List<InstanceSpec> { one } : new List<InstanceSpec>();
                        fields.Add(new FieldSpec(field.Name, isArray, items.ToEquatable()));
                        break;
                    }
                case IPropertySymbol property when GetAttribute(property, "ParameterAttribute") is { } attr:
                    {
                        if (ParameterProblem(property) is { } problem)
                        {
                            Report(depth == 0 ? "MG0007" : Diagnostics.SilentId, property.Locations.FirstOrDefault(), property.Name, problem);
                            continue;
                        }
                        var shape = ParameterShape(property, attr, quiet: depth > 0);
                        if (shape != null) parameters.Add(new ParamSpec(property.Name, shape.Value, ParameterInit(attr)) { Scale = ParameterScale(attr) });
                        break;
                    }
                case IPropertySymbol property when !property.IsStatic && IsLayerType(property.Type, out _):
                    Report(depth == 0 ? "MG0009" : Diagnostics.SilentId, property.Locations.FirstOrDefault(), property.Name, "hold layers and modules in readonly fields, not properties");
                    break;
            }
        }
        return new InstanceSpec(path, key, EquatableArray<double>.Empty, fields.ToEquatable(), parameters.ToEquatable());
    }

    static string Join(string path, string name) => path.Length == 0 ? name : path + "." + name;

    List<InstanceSpec> BuildArray(ExpressionSyntax init, string path, Dictionary<string, double> env, int depth, string fieldName)
    {
        var result = new List<InstanceSpec>();
        var model = ModelFor(init);
        IEnumerable<ExpressionSyntax>? elements = init switch
        {
            ImplicitArrayCreationExpressionSyntax a => a.Initializer.Expressions,
            ArrayCreationExpressionSyntax { Initializer: { } i } => i.Expressions,
            CollectionExpressionSyntax c => c.Elements.OfType<ExpressionElementSyntax>().Select(e => e.Expression),
            _ => null,
        };
        if (elements != null)
        {
            int i = 0;
            foreach (var e in elements)
                if (BuildOne(e, path + "." + i++, env, depth, fieldName) is { } item) result.Add(item);
            return result;
        }
        if (init is InvocationExpressionSyntax inv && model.GetSymbolInfo(inv).Symbol is IMethodSymbol { Name: "Repeat" } repeat
            && repeat.ContainingType.Equals(_ops, SymbolEqualityComparer.Default) && inv.ArgumentList.Arguments.Count == 2)
        {
            var count = ConstantEvaluator.Evaluate(inv.ArgumentList.Arguments[0].Expression, model, env);
            var factory = inv.ArgumentList.Arguments[1].Expression;
            ExpressionSyntax? body = factory switch
            {
                ParenthesizedLambdaExpressionSyntax { ExpressionBody: { } b } => b,
                SimpleLambdaExpressionSyntax { ExpressionBody: { } b } => b,
                _ => null,
            };
            if (count is not { } n || n < 0 || n != Math.Floor(n) || n > 4096)
                Report("MG0009", inv.ArgumentList.Arguments[0], fieldName, "Repeat needs a constant, non-negative count");
            else if (body == null)
                Report("MG0009", factory, fieldName, "Repeat needs a lambda that creates the module, such as '() => new Block(128)'");
            else
                for (int i = 0; i < (int)n; i++)
                    if (BuildOne(body, path + "." + i, env, depth, fieldName) is { } item) result.Add(item);
            return result;
        }
        Report("MG0009", init, fieldName, "an array of layers is created with Repeat(n, () => new ...), 'new[] { ... }' or a collection expression");
        return result;
    }

    InstanceSpec? BuildOne(ExpressionSyntax init, string path, Dictionary<string, double> env, int depth, string fieldName)
    {
        var model = ModelFor(init);
        if (init is not BaseObjectCreationExpressionSyntax creation || model.GetSymbolInfo(creation).Symbol is not IMethodSymbol ctor)
        {
            Report("MG0009", init, fieldName, "a layer or module is created with 'new(...)' and constant arguments");
            return null;
        }
        var type = ctor.ContainingType;
        var args = BindArguments(ctor, creation.ArgumentList?.Arguments ?? default, model, env, creation, fieldName);
        if (args == null) return null;
        if (BuiltInLayer(type) is { } layer)
        {
            var values = layer.Arguments.Select(a => args.TryGetValue(a, out var v) ? v : double.NaN).ToArray();
            try
            {
                var ps = layer.Parameters(new LayerArgs(layer, values));
                return new InstanceSpec(path, layer.Name, values.ToEquatable(), EquatableArray<FieldSpec>.Empty, ps.ToEquatable());
            }
            catch (LayerError e)
            {
                Report("MG0009", creation, fieldName, e.Message);
                return null;
            }
        }
        if (GetAttribute(type, "ModuleAttribute") != null && type.IsRecord)
        {
            // The module's own output says why a record cannot be a module (MG0010); here it only stops the program.
            Report(Diagnostics.SilentId, creation, fieldName);
            return null;
        }
        if (GetAttribute(type, "ModuleAttribute") != null)
            return BuildInstance(type, path, args, depth + 1, creation);
        Report("MG0009", creation, fieldName, $"'{type.Name}' is neither a built-in layer nor a [Module] class");
        return null;
    }

    Dictionary<string, double>? BindArguments(IMethodSymbol ctor, SeparatedSyntaxList<ArgumentSyntax> arguments, SemanticModel model,
        Dictionary<string, double> env, SyntaxNode site, string fieldName)
    {
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        for (int i = 0; i < ctor.Parameters.Length; i++)
        {
            var p = ctor.Parameters[i];
            var arg = arguments.FirstOrDefault(a => a.NameColon?.Name.Identifier.ValueText == p.Name)
                      ?? (i < arguments.Count && arguments[i].NameColon == null ? arguments[i] : null);
            if (arg != null)
            {
                var v = ConstantEvaluator.Evaluate(arg.Expression, model, env);
                if (v == null)
                {
                    Report("MG0009", arg, fieldName, $"argument '{p.Name}' must be a constant (literal, const, or a constructor parameter)");
                    return null;
                }
                result[p.Name] = v.Value;
            }
            else if (p.HasExplicitDefaultValue)
            {
                result[p.Name] = p.ExplicitDefaultValue switch { int n => n, double d => d, float f => ConstantEvaluator.Widen(f), bool b => b ? 1 : 0, long l => l, _ => 0 };
            }
            else
            {
                Report("MG0009", site, fieldName, $"missing argument '{p.Name}'");
                return null;
            }
        }
        return result;
    }

    ExpressionSyntax? FieldInitializer(IFieldSymbol field)
    {
        foreach (var r in field.DeclaringSyntaxReferences)
            if (r.GetSyntax(_ct) is VariableDeclaratorSyntax { Initializer: { } init }) return init.Value;
        return null;
    }

    /// <summary>Assignments <c>field = new ...</c> in the instance constructor, with the constructor's arguments bound.</summary>
    /// <remarks>With <paramref name="env"/> null, the assignments of every constructor.</remarks>
    Dictionary<string, (ExpressionSyntax?, Dictionary<string, double>)> ConstructorAssignments(INamedTypeSymbol type, Dictionary<string, double>? env)
    {
        var result = new Dictionary<string, (ExpressionSyntax?, Dictionary<string, double>)>(StringComparer.Ordinal);
        foreach (var ctor in type.InstanceConstructors)
        {
            if (ctor.IsImplicitlyDeclared) continue;
            foreach (var r in ctor.DeclaringSyntaxReferences)
            {
                if (r.GetSyntax(_ct) is not ConstructorDeclarationSyntax decl) continue;
                // Only the constructor whose parameters are all bound is the one that ran.
                if (env != null && (!ctor.Parameters.All(p => env.ContainsKey(p.Name)) || ctor.Parameters.Length != env.Count)) continue;
                var expressions = (decl.Body?.Statements ?? default).OfType<ExpressionStatementSyntax>().Select(s => s.Expression).ToList();
                if (decl.ExpressionBody != null) expressions.Add(decl.ExpressionBody.Expression);
                foreach (var e in expressions)
                {
                    if (e is AssignmentExpressionSyntax a && a.IsKind(SyntaxKind.SimpleAssignmentExpression))
                    {
                        string? name = a.Left switch
                        {
                            IdentifierNameSyntax id => id.Identifier.ValueText,
                            MemberAccessExpressionSyntax { Expression: ThisExpressionSyntax, Name: var n } => n.Identifier.ValueText,
                            _ => null,
                        };
                        if (name != null) result[name] = (a.Right, env ?? new Dictionary<string, double>());
                    }
                }
            }
        }
        return result;
    }

    bool IsLayerType(ITypeSymbol type, out bool isArray)
    {
        isArray = false;
        if (type is IArrayTypeSymbol array)
        {
            isArray = true;
            type = array.ElementType;
        }
        return BuiltInLayer(type) != null || (type is INamedTypeSymbol named && GetAttribute(named, "ModuleAttribute") != null);
    }

    EquatableArray<int>? ParameterShape(ISymbol member, AttributeData attr, bool quiet)
    {
        var dims = new List<int>();
        foreach (var arg in attr.ConstructorArguments)
        {
            if (arg.Kind == TypedConstantKind.Array) dims.AddRange(arg.Values.Select(v => v.Value is int i ? i : -1));
            else if (arg.Value is int i) dims.Add(i);
        }
        var location = attr.ApplicationSyntaxReference?.GetSyntax(_ct);
        if (dims.Count == 0 || dims.Any(d => d < 1))
        {
            Report(quiet ? Diagnostics.SilentId : "MG0007", location, member.Name, $"every dimension must be a positive constant, got ({string.Join(", ", dims)})");
            return null;
        }
        return dims.ToEquatable();
    }

    static string ParameterInit(AttributeData attr)
    {
        foreach (var named in attr.NamedArguments)
            if (named.Key == "Init" && named.Value.Value is int v) return InitNames.Length > v && v >= 0 ? InitNames[v] : "HeUniform";
        return "HeUniform";
    }

    /// <summary>The names of ModelGen.Init's members by value (the generated code names them).</summary>
    internal static readonly string[] InitNames =
        { "Zeros", "Ones", "HeUniform", "HeNormal", "XavierUniform", "XavierNormal", "Normal", "Uniform", "LeCunNormal", "LeCunUniform" };

    /// <summary>The scale of a Normal (Std) or Uniform (Bound) initializer when the attribute sets it.</summary>
    static double ParameterScale(AttributeData attr)
    {
        string init = ParameterInit(attr);
        string? key = init == "Normal" ? "Std" : init == "Uniform" ? "Bound" : null;
        foreach (var named in attr.NamedArguments)
            if (named.Key == key && named.Value.Value is double d) return d;
        return double.NaN;
    }

    // ---------------- methods ----------------

    MethodSpec? ParseForward(INamedTypeSymbol type)
    {
        var methods = type.GetMembers().OfType<IMethodSymbol>().Where(m => GetAttribute(m, "ForwardAttribute") != null).ToList();
        if (methods.Count == 0)
        {
            Report("MG0005", type.Locations.FirstOrDefault(), type.Name);
            return null;
        }
        if (methods.Count > 1)
            Report("MG0008", methods[1].Locations.FirstOrDefault(), methods[1].Name, "a class has one [Forward] method");
        return ParseMethod(methods[0], isLoss: false);
    }

    MethodSpec? ParseLoss(INamedTypeSymbol type)
    {
        var method = type.GetMembers().OfType<IMethodSymbol>().FirstOrDefault(m => GetAttribute(m, "LossAttribute") != null);
        return method == null ? null : ParseMethod(method, isLoss: true);
    }

    MethodSpec? ParseMethod(IMethodSymbol method, bool isLoss)
    {
        var syntax = method.DeclaringSyntaxReferences.Select(r => r.GetSyntax(_ct)).OfType<MethodDeclarationSyntax>().FirstOrDefault(m => m.Body != null || m.ExpressionBody != null);
        if (syntax == null)
        {
            Report("MG0008", method.Locations.FirstOrDefault(), method.Name, "the method needs a body");
            return null;
        }
        var model = ModelFor(syntax);
        bool ok = true;
        if (!method.ReturnType.Equals(_tensor, SymbolEqualityComparer.Default))
        {
            Report("MG0008", syntax.ReturnType, method.Name, "must return Tensor");
            ok = false;
        }
        // A loss reads only its arguments, so it may be static (what CA1822 asks of it); a forward reads the layers.
        if (method.IsGenericMethod || (method.IsStatic && !isLoss))
        {
            Report("MG0008", syntax.Identifier, method.Name, isLoss ? "must be a non-generic method" : "must be a non-generic instance method");
            ok = false;
        }
        var ps = new List<MethodParam>();
        foreach (var p in method.Parameters)
        {
            var span = SourceSpan.From(p.Locations.FirstOrDefault() ?? syntax.GetLocation());
            ParamKind kind = p.Type.Equals(_tensor, SymbolEqualityComparer.Default) ? ParamKind.Tensor
                : p.Type.Equals(_labels, SymbolEqualityComparer.Default) ? ParamKind.Labels
                : p.Type.SpecialType == SpecialType.System_Int32 ? ParamKind.Int : ParamKind.Other;
            if (kind == ParamKind.Other || p.RefKind != RefKind.None)
            {
                Report("MG0008", p.Locations.FirstOrDefault(), method.Name, $"parameter '{p.Name}' has type {p.Type.ToDisplayString()}; forward and loss parameters are Tensor (or Labels for a loss)");
                ok = false;
                continue;
            }
            var shapeAttr = GetAttribute(p, "ShapeAttribute");
            var dims = new List<int>();
            if (shapeAttr != null)
            {
                foreach (var arg in shapeAttr.ConstructorArguments)
                {
                    if (arg.Kind == TypedConstantKind.Array) dims.AddRange(arg.Values.Select(v => v.Value is int i ? i : -1));
                    else if (arg.Value is int i) dims.Add(i);
                }
                if (dims.Count == 0 || dims.Any(d => d < 1))
                {
                    string got = $"({string.Join(", ", dims)})";
                    Report("MG0006", shapeAttr.ApplicationSyntaxReference?.GetSyntax(_ct), p.Name, dims.Count > 1 && dims[0] == -1 && dims.Skip(1).All(d => d > 0)
                        ? $"{got}: the batch dimension is implicit, so declare only a sample's shape: [Shape({string.Join(", ", dims.Skip(1))})]"
                        : $"every dimension must be a positive constant, got {got}");
                    ok = false;
                }
            }
            ps.Add(new MethodParam(p.Name, kind, dims.ToEquatable(), shapeAttr != null, span));
        }
        var body = new List<Stmt>();
        if (syntax.ExpressionBody != null)
        {
            if (!CSharpRejects(syntax.ExpressionBody.Expression, model) && ParseExpr(syntax.ExpressionBody.Expression, model) is { } e) body.Add(new ReturnStmt(e, SourceSpan.From(syntax.ExpressionBody.Expression)));
        }
        else
        {
            ParseStatements(syntax.Body!.Statements, model, body);
        }
        return ok ? new MethodSpec(method.Name, ps.ToEquatable(), body.ToEquatable(), SourceSpan.From(syntax.Identifier.GetLocation())) : null;
    }

    void ParseStatements(IEnumerable<StatementSyntax> statements, SemanticModel model, List<Stmt> body)
    {
        foreach (var s in statements)
        {
            _ct.ThrowIfCancellationRequested();
            if (s is not BlockSyntax && CSharpRejects(s, model)) continue;
            switch (s)
            {
                case BlockSyntax block:
                    ParseStatements(block.Statements, model, body);
                    break;
                case LocalDeclarationStatementSyntax local:
                    foreach (var v in local.Declaration.Variables)
                    {
                        if (v.Initializer == null)
                        {
                            Report("MG0004", v, v.Identifier.ValueText, "declare tensors with a value, e.g. 'var h = Relu(x);'");
                            continue;
                        }
                        if (ParseExpr(v.Initializer.Value, model) is { } e) body.Add(new AssignStmt(v.Identifier.ValueText, e, SourceSpan.From(v)));
                        else _reportedLocals.Add(v.Identifier.ValueText);
                    }
                    break;
                case ExpressionStatementSyntax { Expression: AssignmentExpressionSyntax a } when a.Left is IdentifierNameSyntax target
                        && model.GetSymbolInfo(target).Symbol is ILocalSymbol or IParameterSymbol:
                    {
                        var value = ParseExpr(a.Right, model);
                        if (value == null) break;
                        var span = SourceSpan.From(a);
                        string? op = a.Kind() switch
                        {
                            SyntaxKind.SimpleAssignmentExpression => null,
                            SyntaxKind.AddAssignmentExpression => "+",
                            SyntaxKind.SubtractAssignmentExpression => "-",
                            SyntaxKind.MultiplyAssignmentExpression => "*",
                            SyntaxKind.DivideAssignmentExpression => "/",
                            _ => "?",
                        };
                        if (op == "?") Report("MG0004", a, a.ToString(), "only =, +=, -=, *= and /= assign tensors");
                        else body.Add(new AssignStmt(target.Identifier.ValueText,
                            op == null ? value : new BinaryExpr(op, new LocalExpr(target.Identifier.ValueText, span), value, a.ToString(), span), span));
                        break;
                    }
                case ForStatementSyntax f:
                    ParseFor(f, model, body);
                    break;
                case ReturnStatementSyntax { Expression: { } r }:
                    if (ParseExpr(r, model) is { } ret) body.Add(new ReturnStmt(ret, SourceSpan.From(r)));
                    break;
                case IfStatementSyntax i:
                    Report("MG0004", i.Condition, "if (" + i.Condition + ")", "the graph is static, so it cannot branch; compute both sides and combine them with ops");
                    break;
                case WhileStatementSyntax or DoStatementSyntax or ForEachStatementSyntax:
                    Report("MG0004", s, FirstLine(s), "only 'for' loops with constant bounds unroll at build time");
                    break;
                case EmptyStatementSyntax:
                    break;
                case LocalFunctionStatementSyntax local:
                    Report("MG0004", s, FirstLine(s), "a local function cannot be inlined into the graph; write its body in place, or make it a [Module] with a [Forward] method");
                    _reportedLocals.Add(local.Identifier.ValueText);
                    break;
                default:
                    Report("MG0004", s, FirstLine(s), "statements in a forward body are local declarations, assignments, constant-bound 'for' loops and 'return'");
                    break;
            }
        }
    }

    /// <summary>
    /// Whether C# reports an error in <paramref name="node"/>: then that error is the one the user sees, and the
    /// construct is recorded silently (the class gets no program) rather than reported a second time.
    /// </summary>
    bool CSharpRejects(SyntaxNode node, SemanticModel model)
    {
        if (!model.GetDiagnostics(node.Span, _ct).Any(d => d.Severity == DiagnosticSeverity.Error)) return false;
        Report(Diagnostics.SilentId, node, FirstLine(node));
        return true;
    }

    static string FirstLine(SyntaxNode s)
    {
        var text = s.ToString();
        int nl = text.IndexOf('\n');
        return (nl < 0 ? text : text.Substring(0, nl)).Trim();
    }

    void ParseFor(ForStatementSyntax f, SemanticModel model, List<Stmt> body)
    {
        string head = "for (" + f.Declaration + "; " + f.Condition + "; " + string.Join(", ", f.Incrementors) + ")";
        if (f.Declaration is not { Variables.Count: 1 } decl || decl.Variables[0].Initializer == null || f.Condition is not BinaryExpressionSyntax cond
            || f.Incrementors.Count != 1)
        {
            Report("MG0004", f, head, "a loop unrolls only as 'for (int i = a; i < b; i++)' with constant a and b");
            return;
        }
        string v = decl.Variables[0].Identifier.ValueText;
        bool inclusive = cond.IsKind(SyntaxKind.LessThanOrEqualExpression);
        if (!(cond.IsKind(SyntaxKind.LessThanExpression) || inclusive) || cond.Left is not IdentifierNameSyntax { Identifier.ValueText: var cv } || cv != v)
        {
            Report("MG0004", f.Condition, head, "a loop condition is 'i < bound' or 'i <= bound'");
            return;
        }
        int step = f.Incrementors[0] switch
        {
            PostfixUnaryExpressionSyntax p when p.IsKind(SyntaxKind.PostIncrementExpression) => 1,
            PrefixUnaryExpressionSyntax p when p.IsKind(SyntaxKind.PreIncrementExpression) => 1,
            AssignmentExpressionSyntax a when a.IsKind(SyntaxKind.AddAssignmentExpression) && model.GetConstantValue(a.Right).Value is int k && k > 0 => k,
            _ => 0,
        };
        if (step == 0)
        {
            Report("MG0004", f.Incrementors[0], head, "a loop steps with i++ or i += positive constant");
            return;
        }
        var from = ParseExpr(decl.Variables[0].Initializer!.Value, model);
        var to = ParseExpr(cond.Right, model);
        var inner = new List<Stmt>();
        if (f.Statement is BlockSyntax b) ParseStatements(b.Statements, model, inner);
        else ParseStatements(new[] { f.Statement }, model, inner);
        if (from != null && to != null)
            body.Add(new ForStmt(v, from, to, inclusive, step, inner.ToEquatable(), SourceSpan.From(f.Condition)));
    }

    Expr? ParseExpr(ExpressionSyntax e, SemanticModel model)
    {
        _ct.ThrowIfCancellationRequested();
        var span = SourceSpan.From(e);
        var constant = model.GetConstantValue(e);
        if (constant.HasValue && constant.Value is int or long or float or double or bool)
            return new ConstExpr(constant.Value switch { bool b => b ? 1 : 0, float f => ConstantEvaluator.Widen(f), var v => Convert.ToDouble(v, System.Globalization.CultureInfo.InvariantCulture) }, span);
        switch (e)
        {
            case ParenthesizedExpressionSyntax p:
                return ParseExpr(p.Expression, model);
            case CastExpressionSyntax c:
                return ParseExpr(c.Expression, model);
            case PrefixUnaryExpressionSyntax u when u.IsKind(SyntaxKind.UnaryMinusExpression):
                return ParseExpr(u.Operand, model) is { } operand ? new NegateExpr(operand, span) : null;
            case PrefixUnaryExpressionSyntax u when u.IsKind(SyntaxKind.UnaryPlusExpression):
                return ParseExpr(u.Operand, model);
            case BinaryExpressionSyntax b when b.Kind() is SyntaxKind.AddExpression or SyntaxKind.SubtractExpression or SyntaxKind.MultiplyExpression or SyntaxKind.DivideExpression:
                {
                    var l = ParseExpr(b.Left, model);
                    var r = ParseExpr(b.Right, model);
                    return l != null && r != null ? new BinaryExpr(b.OperatorToken.Text, l, r, b.ToString(), span) : null;
                }
            case IdentifierNameSyntax id:
                return ParseName(id, model, span);
            case MemberAccessExpressionSyntax { Expression: ThisExpressionSyntax } m:
                return ParseName(m.Name, model, span);
            case MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Length" } m when model.GetTypeInfo(m.Expression).Type is IArrayTypeSymbol
                    && Unthis(m.Expression) is IdentifierNameSyntax arr && model.GetSymbolInfo(arr).Symbol is IFieldSymbol:
                return new LengthExpr(arr.Identifier.ValueText, span);
            case ElementAccessExpressionSyntax { ArgumentList.Arguments.Count: 1 } ea when Unthis(ea.Expression) is IdentifierNameSyntax arrName
                    && model.GetSymbolInfo(arrName).Symbol is IFieldSymbol:
                {
                    var index = ParseExpr(ea.ArgumentList.Arguments[0].Expression, model);
                    return index == null ? null : new MemberExpr(arrName.Identifier.ValueText, index, span);
                }
            case InvocationExpressionSyntax inv:
                return ParseInvocation(inv, model, span);
        }
        Report("MG0004", e, e.ToString(), "a forward body uses ops, layer and module calls, tensor operators, locals and constants");
        return null;
    }

    static ExpressionSyntax Unthis(ExpressionSyntax e) => e is MemberAccessExpressionSyntax { Expression: ThisExpressionSyntax, Name: var n } ? n : e;

    Expr? ParseName(SimpleNameSyntax id, SemanticModel model, SourceSpan span)
    {
        switch (model.GetSymbolInfo(id).Symbol)
        {
            case ILocalSymbol local:
                return new LocalExpr(local.Name, span);
            case IParameterSymbol parameter:
                return new LocalExpr(parameter.Name, span);
            case IFieldSymbol field when !field.IsStatic && IsLayerType(field.Type, out _):
                return new MemberExpr(field.Name, null, span);
            case IPropertySymbol property when !property.IsStatic && GetAttribute(property, "ParameterAttribute") != null:
                return new MemberExpr(property.Name, null, span);
            case null:
                // C# reports the name it cannot find (CS0103); the class only gets no program.
                Report(Diagnostics.SilentId, id, id.Identifier.ValueText);
                return null;
            case IFieldSymbol field when !IsLayerType(field.Type, out _):
                Report("MG0004", id, id.Identifier.ValueText, field.Type.SpecialType is >= SpecialType.System_SByte and <= SpecialType.System_Double
                    ? "a field is read when the model runs, but a loop bound, index or op argument must be known when it compiles: make it 'const'"
                    : "only layer and module fields, [Parameter] properties, locals and constants can be used in a forward body");
                return null;
            case var other:
                Report("MG0004", id, id.Identifier.ValueText, $"a {other.Kind.ToString().ToLowerInvariant()} cannot be used in a forward body; use locals, layer fields and [Parameter] properties");
                return null;
        }
    }

    Expr? ParseInvocation(InvocationExpressionSyntax inv, SemanticModel model, SourceSpan span)
    {
        var info = model.GetSymbolInfo(inv);
        var method = info.Symbol as IMethodSymbol ?? info.CandidateSymbols.OfType<IMethodSymbol>().FirstOrDefault();
        string name = inv.Expression switch
        {
            MemberAccessExpressionSyntax m => m.Name.Identifier.ValueText,
            SimpleNameSyntax s => s.Identifier.ValueText,
            _ => inv.Expression.ToString(),
        };
        bool resolved = info.Symbol != null;
        // A call whose argument is itself in error (an unknown function, a bad op) fails overload resolution; take the
        // candidate that fits by arity, so that the argument is parsed and the diagnostic lands on the real problem.
        if (!resolved && info.CandidateSymbols.Length > 0 && inv.ArgumentList.Arguments.Any(a => model.GetTypeInfo(a.Expression).Type is null or IErrorTypeSymbol)
            && info.CandidateSymbols.OfType<IMethodSymbol>().FirstOrDefault(m => m.Parameters.Length >= inv.ArgumentList.Arguments.Count) is { } candidate)
        {
            method = candidate;
            resolved = true;
        }
        if (method == null)
        {
            // Nothing by that name: C# reports it (CS0103, CS1061); the class only gets no program.
            Report(Diagnostics.SilentId, inv.Expression, name);
            return null;
        }
        if (inv.Expression is IdentifierNameSyntax callee && _reportedLocals.Contains(callee.Identifier.ValueText)
            && model.GetSymbolInfo(callee).Symbol is ILocalSymbol or IMethodSymbol { MethodKind: MethodKind.LocalFunction })
        {
            // Its declaration was reported; the call is the same mistake.
            Report(Diagnostics.SilentId, inv.Expression, name);
            return null;
        }
        if (!resolved && (method.ContainingType.Equals(_ops, SymbolEqualityComparer.Default) || IsLayerType(method.ContainingType, out _)))
        {
            // The C# compiler reports why the arguments do not fit; a second error here would only be noise.
            Report(Diagnostics.SilentId, inv.Expression, name);
            return null;
        }
        if (method.ContainingType.Equals(_ops, SymbolEqualityComparer.Default))
        {
            if (method.Name == "Repeat")
            {
                Report("MG0004", inv, name, "Repeat creates modules in a field initializer, not in a forward body");
                return null;
            }
            var args = BindCallArguments(method, inv.ArgumentList.Arguments, model, span);
            return args == null ? null : new OpCallExpr(method.Name, args.Value, span);
        }
        if (inv.Expression is MemberAccessExpressionSyntax access && IsLayerType(method.ContainingType, out _) && GetAttribute(method, "ForwardAttribute") != null
            || inv.Expression is MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Forward" } && BuiltInLayer(method.ContainingType) != null)
        {
            var target = ParseExpr(((MemberAccessExpressionSyntax)inv.Expression).Expression, model);
            var args = BindCallArguments(method, inv.ArgumentList.Arguments, model, span);
            return target == null || args == null ? null : new LayerCallExpr(target, method.Name, args.Value, span);
        }
        Report("MG0003", inv.Expression, name, $"'{method.ContainingType.Name}.{method.Name}' cannot be compiled into a model");
        return null;
    }

    EquatableArray<Expr>? BindCallArguments(IMethodSymbol method, SeparatedSyntaxList<ArgumentSyntax> arguments, SemanticModel model, SourceSpan span)
    {
        var result = new List<Expr>();
        bool ok = true;
        for (int i = 0; i < method.Parameters.Length; i++)
        {
            var p = method.Parameters[i];
            var arg = arguments.FirstOrDefault(a => a.NameColon?.Name.Identifier.ValueText == p.Name)
                      ?? (i < arguments.Count && arguments[i].NameColon == null ? arguments[i] : null);
            if (arg != null)
            {
                var e = ParseExpr(arg.Expression, model);
                if (e == null) ok = false;
                else result.Add(e);
            }
            else if (p.HasExplicitDefaultValue)
            {
                result.Add(new ConstExpr(p.ExplicitDefaultValue switch { int n => n, double d => d, float f => ConstantEvaluator.Widen(f), bool b => b ? 1 : 0, _ => 0 }, span));
            }
            else ok = false;
        }
        return ok ? result.ToEquatable() : null;
    }

    // ---------------- helpers ----------------

    /// <summary>The op-table row of a runtime layer class (ModelGen.Linear, ...), or null for any other type.</summary>
    static LayerDef? BuiltInLayer(ITypeSymbol type) =>
        type is INamedTypeSymbol { ContainingNamespace: { } ns } && ns.ToDisplayString() == Ns && Layers.TryGet(type.Name, out var def) ? def : null;

    SemanticModel ModelFor(SyntaxNode node) => _compilation.GetSemanticModel(node.SyntaxTree);

    static bool IsPartial(INamedTypeSymbol type) =>
        type.DeclaringSyntaxReferences.Any(r => r.GetSyntax() is TypeDeclarationSyntax t && t.Modifiers.Any(SyntaxKind.PartialKeyword));

    static AttributeData? GetAttribute(ISymbol symbol, string name) =>
        symbol.GetAttributes().FirstOrDefault(a => a.AttributeClass is { Name: var n, ContainingNamespace: var ns } && n == name && ns.ToDisplayString() == Ns);

    static string Accessibility(Microsoft.CodeAnalysis.Accessibility a) => a switch
    {
        Microsoft.CodeAnalysis.Accessibility.Public => "public",
        Microsoft.CodeAnalysis.Accessibility.Internal => "internal",
        Microsoft.CodeAnalysis.Accessibility.Private => "private",
        Microsoft.CodeAnalysis.Accessibility.Protected => "protected",
        Microsoft.CodeAnalysis.Accessibility.ProtectedOrInternal => "protected internal",
        Microsoft.CodeAnalysis.Accessibility.ProtectedAndInternal => "private protected",
        _ => "internal",
    };

    void Report(string id, SyntaxNode? node, params string[] args) => Add(id, node == null ? null : SourceSpan.From(node), args);

    void Report(string id, SyntaxToken token, params string[] args) => Add(id, SourceSpan.From(token.GetLocation()), args);

    void Report(string id, Location? location, params string[] args) =>
        Add(id, location == null || !location.IsInSource ? null : SourceSpan.From(location), args);

    void Add(string id, SourceSpan? span, string[] args) =>
        _diagnostics.Add(new DiagnosticInfo(_quiet > 0 ? Diagnostics.SilentId : id, span, args.ToEquatable()));
}
