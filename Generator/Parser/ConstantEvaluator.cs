using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace ModelGen.Generator.Parser;

/// <summary>
/// Evaluates the integer and floating-point expressions that size layers: literals, constants, constructor
/// parameters bound in <c>env</c>, arithmetic and casts. Returns null for anything else.
/// </summary>
internal static class ConstantEvaluator
{
    public static double? Evaluate(ExpressionSyntax expression, SemanticModel model, IReadOnlyDictionary<string, double> env)
    {
        switch (expression)
        {
            case ParenthesizedExpressionSyntax p:
                return Evaluate(p.Expression, model, env);
            case CastExpressionSyntax c:
                {
                    var v = Evaluate(c.Expression, model, env);
                    var type = model.GetTypeInfo(c.Type).Type;
                    if (v is { } value && type?.SpecialType is SpecialType.System_Int32 or SpecialType.System_Int64)
                        return System.Math.Truncate(value);
                    return v;
                }
            case IdentifierNameSyntax id when model.GetSymbolInfo(id).Symbol is IParameterSymbol parameter:
                return env.TryGetValue(parameter.Name, out var bound) ? bound : null;
            case PrefixUnaryExpressionSyntax u when u.IsKind(SyntaxKind.UnaryMinusExpression):
                return -Evaluate(u.Operand, model, env);
            case PrefixUnaryExpressionSyntax u when u.IsKind(SyntaxKind.UnaryPlusExpression):
                return Evaluate(u.Operand, model, env);
            case BinaryExpressionSyntax b:
                {
                    var l = Evaluate(b.Left, model, env);
                    var r = Evaluate(b.Right, model, env);
                    if (l is not { } x || r is not { } y) return null;
                    bool integral = IsIntegral(b, model);
                    return b.Kind() switch
                    {
                        SyntaxKind.AddExpression => x + y,
                        SyntaxKind.SubtractExpression => x - y,
                        SyntaxKind.MultiplyExpression => x * y,
                        SyntaxKind.DivideExpression when y != 0 => integral ? System.Math.Truncate(x / y) : x / y,
                        SyntaxKind.ModuloExpression when y != 0 => x % y,
                        _ => null,
                    };
                }
        }
        var constant = model.GetConstantValue(expression);
        if (constant.HasValue)
        {
            return constant.Value switch
            {
                int i => i,
                long l => l,
                float f => Widen(f),
                double d => d,
                bool flag => flag ? 1 : 0,
                _ => null,
            };
        }
        return null;
    }

    /// <summary>
    /// A float as the double with the same shortest decimal form: 0.01f becomes 0.01, not 0.009999999776482582, so that
    /// the constant prints in generated comments as the user wrote it (and still rounds back to the same float).
    /// </summary>
    public static double Widen(float f) =>
        float.IsNaN(f) || float.IsInfinity(f) ? f
            : double.Parse(f.ToString("R", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture);

    static bool IsIntegral(ExpressionSyntax e, SemanticModel model)
    {
        var t = model.GetTypeInfo(e).Type;
        return t?.SpecialType is SpecialType.System_Int32 or SpecialType.System_Int64 or SpecialType.System_Int16 or SpecialType.System_Byte;
    }
}
