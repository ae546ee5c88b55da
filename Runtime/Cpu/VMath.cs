using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Cpu;

/// <summary>
/// Elementwise transcendental functions in scalar, 256-bit and 512-bit forms (the generator's fused loops call
/// them for the vector body and the scalar tail). All forms use the same formulas, so the body and the tail agree
/// to a few ulp, and all are accurate to about 1e-6 relative over the whole float range; inputs are clamped so that
/// nothing overflows: ±inf gives ±1 (tanh) and 1 or 0 (sigmoid), NaN stays NaN.
/// </summary>
/// <remarks>
/// tanh: for |x| &lt; 0.5 the odd Taylor series through x^15 (truncation error below 1e-7 relative there, and no
/// cancellation); otherwise sign(x)·(1 − 2/(e^{2|x|} + 1)) with |x| clamped to 10 (tanh(10) rounds to 1 in float).
/// sigmoid: 1/(1 + e^{−x}) with x clamped to [−88, 88] so e^{−x} stays finite.
/// </remarks>
public static class VMath
{
    const float TanhSmall = 0.5f;
    const float TanhClamp = 10f;
    const float SigmoidClamp = 88f;

    // Taylor coefficients of tanh: x + c3 x^3 + c5 x^5 + ... (from the Bernoulli numbers).
    const float C3 = -1f / 3f;
    const float C5 = 2f / 15f;
    const float C7 = -17f / 315f;
    const float C9 = 62f / 2835f;
    const float C11 = -1382f / 155925f;
    const float C13 = 21844f / 6081075f;
    const float C15 = -929569f / 638512875f;

    /// <summary>The hyperbolic tangent of <paramref name="x"/>.</summary>
    /// <param name="x">The input.</param>
    /// <returns>tanh(x), in [−1, 1].</returns>
    public static float Tanh(float x)
    {
        float ax = MathF.Abs(x);
        if (ax < TanhSmall)
        {
            float x2 = x * x;
            float p = C15;
            p = p * x2 + C13;
            p = p * x2 + C11;
            p = p * x2 + C9;
            p = p * x2 + C7;
            p = p * x2 + C5;
            p = p * x2 + C3;
            return x + x * x2 * p;
        }
        if (float.IsNaN(x))
            return x;
        float e = MathF.Exp(2f * MathF.Min(ax, TanhClamp));
        float t = 1f - 2f / (e + 1f);
        return x < 0 ? -t : t;
    }

    /// <summary>The hyperbolic tangent of each lane of <paramref name="x"/>.</summary>
    /// <param name="x">The inputs.</param>
    /// <returns>tanh of each lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        Vector256<float> ax = Vector256.Abs(x);
        Vector256<float> x2 = x * x;
        Vector256<float> p = Vector256.Create(C15);
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(C13));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(C11));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(C9));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(C7));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(C5));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(C3));
        Vector256<float> small = Vector256.FusedMultiplyAdd(x * x2, p, x);

        Vector256<float> e = Vector256.Exp(Vector256.Min(ax, Vector256.Create(TanhClamp)) * Vector256.Create(2f));
        Vector256<float> t = Vector256<float>.One - Vector256.Create(2f) / (e + Vector256<float>.One);
        // Copy the sign of x onto t (t >= 0); NaN lanes are restored at the end (Min/Max may drop a NaN).
        Vector256<float> signMask = Vector256.Create(-0f);
        Vector256<float> large = (t & ~signMask) | (x & signMask);
        Vector256<float> result = Vector256.ConditionalSelect(Vector256.LessThan(ax, Vector256.Create(TanhSmall)), small, large);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), result, x);
    }

    /// <summary>The hyperbolic tangent of each lane of <paramref name="x"/>.</summary>
    /// <param name="x">The inputs.</param>
    /// <returns>tanh of each lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> x)
    {
        Vector512<float> ax = Vector512.Abs(x);
        Vector512<float> x2 = x * x;
        Vector512<float> p = Vector512.Create(C15);
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(C13));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(C11));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(C9));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(C7));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(C5));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(C3));
        Vector512<float> small = Vector512.FusedMultiplyAdd(x * x2, p, x);

        Vector512<float> e = Vector512.Exp(Vector512.Min(ax, Vector512.Create(TanhClamp)) * Vector512.Create(2f));
        Vector512<float> t = Vector512<float>.One - Vector512.Create(2f) / (e + Vector512<float>.One);
        Vector512<float> signMask = Vector512.Create(-0f);
        Vector512<float> large = (t & ~signMask) | (x & signMask);
        Vector512<float> result = Vector512.ConditionalSelect(Vector512.LessThan(ax, Vector512.Create(TanhSmall)), small, large);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), result, x);
    }

    /// <summary>The logistic function 1 / (1 + e^−x).</summary>
    /// <param name="x">The input.</param>
    /// <returns>sigmoid(x), in [0, 1].</returns>
    public static float Sigmoid(float x)
    {
        float c = MathF.Max(MathF.Min(x, SigmoidClamp), -SigmoidClamp);
        if (float.IsNaN(x))
            return x;
        return 1f / (1f + MathF.Exp(-c));
    }

    /// <summary>The logistic function of each lane of <paramref name="x"/>.</summary>
    /// <param name="x">The inputs.</param>
    /// <returns>sigmoid of each lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x)
    {
        Vector256<float> c = Vector256.Max(Vector256.Min(x, Vector256.Create(SigmoidClamp)), Vector256.Create(-SigmoidClamp));
        Vector256<float> s = Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-c));
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), s, x);
    }

    /// <summary>The logistic function of each lane of <paramref name="x"/>.</summary>
    /// <param name="x">The inputs.</param>
    /// <returns>sigmoid of each lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> x)
    {
        Vector512<float> c = Vector512.Max(Vector512.Min(x, Vector512.Create(SigmoidClamp)), Vector512.Create(-SigmoidClamp));
        Vector512<float> s = Vector512<float>.One / (Vector512<float>.One + Vector512.Exp(-c));
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), s, x);
    }
}
