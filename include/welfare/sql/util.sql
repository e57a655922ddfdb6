-- Helper functions the validation rules and the typed raw load share.
-- Idempotent: safe to run on every start.
create schema if not exists util;

-- A Thai national id: 13 digits, digit 13 = (11 - sum(d_i * (14 - i)) mod 11) mod 10.
create or replace function util.national_id_ok(value text) returns boolean
language sql immutable parallel safe as $$
  select value ~ '^[0-9]{13}$'
     and (11 - (
            (substr(value, 1, 1)::int * 13) + (substr(value, 2, 1)::int * 12)
          + (substr(value, 3, 1)::int * 11) + (substr(value, 4, 1)::int * 10)
          + (substr(value, 5, 1)::int * 9)  + (substr(value, 6, 1)::int * 8)
          + (substr(value, 7, 1)::int * 7)  + (substr(value, 8, 1)::int * 6)
          + (substr(value, 9, 1)::int * 5)  + (substr(value, 10, 1)::int * 4)
          + (substr(value, 11, 1)::int * 3) + (substr(value, 12, 1)::int * 2)
         ) % 11) % 10 = substr(value, 13, 1)::int
$$;

-- dd/mm/yyyy in the Buddhist Era -> date; NULL when it does not name a real day
-- or the year is below 2400 (a Common-Era year typed into a Buddhist-Era field).
create or replace function util.be_date(value text) returns date
language plpgsql immutable parallel safe as $$
declare
  d int; m int; y int;
begin
  if value is null or value !~ '^[0-9]{2}/[0-9]{2}/[0-9]{4}$' then
    return null;
  end if;
  d := substr(value, 1, 2)::int;
  m := substr(value, 4, 2)::int;
  y := substr(value, 7, 4)::int;
  if y < 2400 or m < 1 or m > 12 or d < 1
     or d > extract(day from (make_date(y - 543, m, 1) + interval '1 month - 1 day'))::int then
    return null;
  end if;
  return make_date(y - 543, m, d);
end
$$;

-- yyyy-mm-dd -> date; NULL when it does not name a real day.
create or replace function util.iso_date(value text) returns date
language plpgsql immutable parallel safe as $$
declare
  y int; m int; d int;
begin
  if value is null or value !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' then
    return null;
  end if;
  y := substr(value, 1, 4)::int;
  m := substr(value, 6, 2)::int;
  d := substr(value, 9, 2)::int;
  if y < 1 or m < 1 or m > 12 or d < 1
     or d > extract(day from (make_date(y, m, 1) + interval '1 month - 1 day'))::int then
    return null;
  end if;
  return make_date(y, m, d);
end
$$;

-- A line of a JSON-lines file -> jsonb object; NULL when it is not a JSON object.
create or replace function util.try_jsonb_object(value text) returns jsonb
language plpgsql immutable parallel safe as $$
declare
  doc jsonb;
begin
  doc := value::jsonb;
  if jsonb_typeof(doc) <> 'object' then
    return null;
  end if;
  return doc;
exception when others then
  return null;
end
$$;
