namespace ModelGen;

/// <summary>
/// Something that owns parameters: a built-in layer such as <see cref="Linear"/> or a <c>[Module]</c> class
/// (the generator implements this interface for modules). Binding points its parameter tensors at the
/// slices of a model's parameter arena, named under a path prefix.
/// </summary>
public interface IModule
{
    /// <summary>Points every parameter at its slice of <paramref name="store"/>, named <c>{prefix}.{name}</c>.</summary>
    void Bind(ParameterStore store, string prefix);
}
