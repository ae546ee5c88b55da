using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;
using ModelGen.Generator.Model;
using Xunit;

namespace ModelGen.Generator.Tests;

/// <summary>
/// The models that cross pipeline steps must compare by value: a symbol, syntax node or compilation inside them
/// would keep old compilations alive and defeat caching. Walks every type reachable from the specs and fails on any.
/// </summary>
public class PipelineModelTests
{
    static readonly Type[] Forbidden =
    {
        typeof(ISymbol), typeof(SyntaxNode), typeof(SyntaxToken), typeof(SyntaxTrivia), typeof(SyntaxTree), typeof(Location),
        typeof(SemanticModel), typeof(Compilation),
    };

    const BindingFlags Instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

    static IEnumerable<Type> Reachable(params Type[] roots)
    {
        var seen = new HashSet<Type>();
        var queue = new Queue<Type>(roots);
        var modelTypes = typeof(ClassSpec).Assembly.GetTypes().Where(t => t.Namespace == typeof(ClassSpec).Namespace).ToList();
        while (queue.Count > 0)
        {
            var t = queue.Dequeue();
            if (!seen.Add(t)) continue;
            yield return t;
            if (t.IsPrimitive || t == typeof(string) || t.IsEnum) continue;
            if (t.IsArray)
            {
                queue.Enqueue(t.GetElementType()!);
                continue;
            }
            if (t.IsGenericType) foreach (var a in t.GetGenericArguments()) queue.Enqueue(a);
            // Framework types (string, Type of a record's EqualityContract, ...) hold nothing of ours: stop there.
            if (t.Namespace?.StartsWith("System", StringComparison.Ordinal) == true) continue;
            foreach (var p in t.GetProperties(Instance).Where(p => p.Name != "EqualityContract")) queue.Enqueue(p.PropertyType);
            foreach (var f in t.GetFields(Instance)) queue.Enqueue(f.FieldType);
            // Abstract records (Stmt, Expr) reach their derived records.
            foreach (var d in modelTypes.Where(d => d != t && t.IsAssignableFrom(d))) queue.Enqueue(d);
        }
    }

    [Fact]
    public void SpecsHoldNoSymbolsSyntaxOrCompilations()
    {
        var types = Reachable(typeof(ClassSpec), typeof(GeneratedFile)).ToList();
        // The walk really reached the forward body's statements and expressions.
        Assert.Contains(typeof(ForStmt), types);
        Assert.Contains(typeof(LayerCallExpr), types);
        Assert.Contains(typeof(SourceSpan), types);
        var bad = types.Where(t => Forbidden.Any(f => f.IsAssignableFrom(t) || t.IsAssignableFrom(f) && t != typeof(object))).ToList();
        Assert.True(bad.Count == 0, "pipeline model types reach Roslyn objects: " + string.Join(", ", bad));
        Assert.DoesNotContain(typeof(object), types);
    }

    [Fact]
    public void SpecsAreEquatableByValue()
    {
        // A nullable primitive (ParamSpec.Scale, double?) compares by value through Nullable<T>.Equals without implementing IEquatable<T>.
        foreach (var t in Reachable(typeof(ClassSpec), typeof(GeneratedFile)).Where(t => !t.IsPrimitive && !t.IsEnum && !t.IsArray && Nullable.GetUnderlyingType(t) is not { IsPrimitive: true }))
        {
            Assert.True(t.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEquatable<>)), $"{t} is not IEquatable<T>");
            // Arrays compare by reference: only EquatableArray may hold one.
            if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(EquatableArray<>)) continue;
            foreach (var p in t.GetProperties(Instance)) Assert.False(p.PropertyType.IsArray, $"{t}.{p.Name} is an array; use EquatableArray<T>");
        }
    }

    [Fact]
    public void ParsingTheSameSourceTwiceGivesEqualOutputs()
    {
        var a = GeneratorHarness.RunChecked(SampleModels.ResidualNet);
        var b = GeneratorHarness.RunChecked(SampleModels.ResidualNet);
        Assert.Equal(a.Sources.Select(s => (s.HintName, s.SourceText.ToString())), b.Sources.Select(s => (s.HintName, s.SourceText.ToString())));
    }
}
